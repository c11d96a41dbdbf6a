package sock

// smallMap is a map for state that is per stream but, on most
// associations, about one stream at a time: the first key's entry is held
// in place, the others in a map made when a second key needs one. An
// association that uses one stream then holds no map (one of a single
// entry is some 300 bytes, per association). Each key's entry lives in
// one place only. Not safe for concurrent use: its owner's lock guards
// it.
type smallMap[K comparable, V any] struct {
	firstKey K
	first    V
	inFirst  bool
	more     map[K]V
}

// get returns key's entry and whether there is one.
func (m *smallMap[K, V]) get(key K) (V, bool) {
	if m.inFirst && m.firstKey == key {
		return m.first, true
	}
	v, ok := m.more[key]
	return v, ok
}

// set makes v key's entry.
func (m *smallMap[K, V]) set(key K, v V) {
	if m.inFirst && m.firstKey == key {
		m.first = v
		return
	}
	if _, inMore := m.more[key]; !inMore && !m.inFirst {
		m.firstKey, m.first, m.inFirst = key, v, true
		return
	}
	if m.more == nil {
		m.more = make(map[K]V)
	}
	m.more[key] = v
}

// del removes key's entry, if any.
func (m *smallMap[K, V]) del(key K) {
	if m.inFirst && m.firstKey == key {
		var zero V
		m.first, m.inFirst = zero, false
		return
	}
	delete(m.more, key)
}

// clear removes every entry.
func (m *smallMap[K, V]) clear() {
	var zero V
	m.first, m.inFirst = zero, false
	clear(m.more)
}

// keys returns the keys that have an entry, in no order.
func (m *smallMap[K, V]) keys() []K {
	ks := make([]K, 0, len(m.more)+1)
	if m.inFirst {
		ks = append(ks, m.firstKey)
	}
	for k := range m.more {
		ks = append(ks, k)
	}
	return ks
}
