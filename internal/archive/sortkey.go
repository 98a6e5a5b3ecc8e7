package archive

import (
	"cmp"
	"slices"
	"sync"
	"unsafe"
)

// sortKey is a row's place in the file order of the adus and connections
// tables (server_ip as text, server_port, run_id, conn_id, ordinal) as
// three integers, compared in turn (hi, then mid, then lo): a chunk of rows
// sorts on them (radixSort) without comparing a string. run_id is left
// out: a writer's rows are all of its run.
type sortKey struct {
	// hi is the server's place in string order (bits 16 and up: its
	// v4Order, or its rank among the chunk's servers), then the server port.
	hi uint64
	// mid is conn_id, its sign bit flipped so that unsigned order is
	// signed order.
	mid uint64
	// lo is the ordinal (the same, in bits 32 and up) and the row's index
	// in the chunk (bits 0-31), which makes every key unique.
	lo uint64
}

func (a *sortKey) cmp(b *sortKey) int {
	switch {
	case a.hi != b.hi:
		return cmp.Compare(a.hi, b.hi)
	case a.mid != b.mid:
		return cmp.Compare(a.mid, b.mid)
	}
	return cmp.Compare(a.lo, b.lo)
}

// radixMin is the fewest keys radixSort sorts: fewer are sorted by
// comparing them, cheaper than radixSort's histogram of every byte.
const radixMin = 256

// rowKey is what a row's sortKey is made of.
type rowKey struct {
	server  addr
	port    uint16
	conn    int64
	ordinal int32 // 0 for connections rows
}

// sortScratch is the memory sortRows uses, in bytes per row sorted: two
// keys (partition.Rows.SortScratch).
const sortScratch = 2 * int(unsafe.Sizeof(sortKey{}))

// keepKeys is the most keys a serverSorter keeps from one sort to the
// next: the keys of a small chunk are reused (an archive of scattered
// hours sorts thousands of one-row parts), those of a big one released,
// so that they do not sit through the writing of the part's file.
const keepKeys = 1 << 16

// serverSorter sorts chunks of rows in file order. One serves a run's
// tables, which sort one chunk at a time.
type serverSorter struct {
	mu     sync.Mutex // one sort at a time
	addrs  *addrs
	keys   []sortKey
	tmp    []sortKey
	counts [3][8][256]int
	slot   map[addr]uint32 // a server's index in servers
	srvs   []addr          // the chunk's distinct servers
	byTxt  []uint32        // indexes of srvs in string order
	rank   []uint32        // rank of srvs[i] in string order
}

// sortRows sets perm to the order of rows in the file; key gives a row's
// sort columns. When every server of the chunk is an IPv4 address (the
// usual case) a server's place comes from its octets (v4Order); otherwise
// the chunk's distinct servers are ranked by their texts first, once each.
func sortRows[R any](s *serverSorter, rows []R, perm []int32, key func(*R) rowKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = slices.Grow(s.keys[:0], len(rows))[:len(rows)]
	allV4 := true
	for i := range rows {
		k := key(&rows[i])
		s.keys[i] = sortKey{
			mid: uint64(k.conn) ^ 1<<63,
			lo:  uint64(uint32(k.ordinal)^1<<31)<<32 | uint64(i),
			hi:  uint64(k.port),
		}
		if k.server.kind == addrV4 {
			s.keys[i].hi |= uint64(v4Order(k.server)) << 16
		} else {
			allV4 = false
		}
	}
	if !allV4 {
		rankServers(s, rows, key)
	}
	sorted := s.keys
	if len(rows) < radixMin {
		slices.SortFunc(sorted, func(a, b sortKey) int { return a.cmp(&b) })
	} else {
		s.tmp = slices.Grow(s.tmp[:0], len(rows))[:len(rows)]
		sorted = radixSort(s.keys, s.tmp, &s.counts)
	}
	for i, k := range sorted {
		perm[i] = int32(uint32(k.lo))
	}
	if len(rows) > keepKeys {
		s.keys, s.tmp = nil, nil
	}
}

// radixSort sorts keys by (hi, mid, lo), a byte at a time from the least
// significant, stably, skipping the bytes that are the same in every key
// and the index in lo's low 32 bits (the keys are in index order to begin
// with). It returns keys or tmp, whichever holds the result.
func radixSort(keys, tmp []sortKey, counts *[3][8][256]int) []sortKey {
	clear(counts[:])
	for i := range keys {
		k := &keys[i]
		for b := range 8 {
			counts[0][b][byte(k.lo>>(8*b))]++
			counts[1][b][byte(k.mid>>(8*b))]++
			counts[2][b][byte(k.hi>>(8*b))]++
		}
	}
	src, dst := keys, tmp
	for w := range 3 {
		for b := range 8 {
			if w == 0 && b < 4 {
				continue
			}
			c := &counts[w][b]
			var off [256]int
			sum := 0
			for v := range c {
				if c[v] == len(keys) {
					sum = -1 // one value: nothing to do
					break
				}
				off[v] = sum
				sum += c[v]
			}
			if sum < 0 {
				continue
			}
			shift := uint(8 * b)
			switch w {
			case 0:
				for _, k := range src {
					v := byte(k.lo >> shift)
					dst[off[v]] = k
					off[v]++
				}
			case 1:
				for _, k := range src {
					v := byte(k.mid >> shift)
					dst[off[v]] = k
					off[v]++
				}
			case 2:
				for _, k := range src {
					v := byte(k.hi >> shift)
					dst[off[v]] = k
					off[v]++
				}
			}
			src, dst = dst, src
		}
	}
	return src
}

// rankServers sets the server part of every key to the server's rank in
// string order among the chunk's distinct servers.
func rankServers[R any](s *serverSorter, rows []R, key func(*R) rowKey) {
	if s.slot == nil {
		s.slot = map[addr]uint32{}
	}
	clear(s.slot)
	s.srvs = s.srvs[:0]
	for i := range rows {
		srv := key(&rows[i]).server
		n, ok := s.slot[srv]
		if !ok {
			n = uint32(len(s.srvs))
			s.slot[srv] = n
			s.srvs = append(s.srvs, srv)
		}
		s.keys[i].hi = uint64(n)<<16 | s.keys[i].hi&0xffff
	}
	s.byTxt = s.byTxt[:0]
	for i := range s.srvs {
		s.byTxt = append(s.byTxt, uint32(i))
	}
	slices.SortFunc(s.byTxt, func(a, b uint32) int { return s.addrs.cmp(s.srvs[a], s.srvs[b]) })
	s.rank = slices.Grow(s.rank[:0], len(s.srvs))[:len(s.srvs)]
	for r, i := range s.byTxt {
		s.rank[i] = uint32(r)
	}
	for i := range s.keys {
		s.keys[i].hi = uint64(s.rank[s.keys[i].hi>>16])<<16 | s.keys[i].hi&0xffff
	}
	if len(s.srvs) > 1<<16 {
		// A chunk of a scan: do not keep its servers' table.
		s.slot, s.srvs, s.byTxt, s.rank = nil, nil, nil, nil
	}
}
