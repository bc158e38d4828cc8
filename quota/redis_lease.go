package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// leaseSet tracks the concurrency leases this replica holds and refreshes
// them every LeaseTTL/3 in one script call. The refresher runs only while
// leases are held, so an idle limiter owns no goroutine.
type leaseSet struct {
	r        *Redis
	instance string
	seq      atomic.Uint64

	mu      sync.Mutex
	held    map[string]string // lease id → lease set key
	running bool
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newLeaseSet(r *Redis) *leaseSet {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return &leaseSet{
		r:        r,
		instance: hex.EncodeToString(b[:]),
		held:     make(map[string]string),
		stop:     make(chan struct{}),
	}
}

// newID names a lease uniquely across replicas.
func (s *leaseSet) newID() string {
	return s.instance + ":" + strconv.FormatUint(s.seq.Add(1), 36)
}

func (s *leaseSet) add(id, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[id] = key
	if s.running || s.closed {
		return
	}
	s.running = true
	s.wg.Add(1)
	go s.refreshLoop()
}

func (s *leaseSet) remove(id string) {
	s.mu.Lock()
	delete(s.held, id)
	s.mu.Unlock()
}

func (s *leaseSet) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *leaseSet) refreshLoop() {
	defer s.wg.Done()
	every := s.r.opts.LeaseTTL / 3
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		keys, args := s.snapshot()
		if keys == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		err := refreshScript.Run(ctx, s.r.client, keys, args...).Err()
		cancel()
		if err != nil {
			// The leases expire if Redis stays away longer than LeaseTTL;
			// tunnels then open while Redis is down are not counted
			// against it until they reconnect.
			s.r.backendFailed(err)
		}
	}
}

// snapshot returns the keys and arguments of one refresh, or nil (and marks
// the refresher stopped) when nothing is held.
func (s *leaseSet) snapshot() ([]string, []any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.held) == 0 {
		s.running = false
		return nil, nil
	}
	keys := make([]string, 0, len(s.held))
	args := make([]any, 1, len(s.held)+1)
	args[0] = s.r.opts.LeaseTTL.Milliseconds()
	for id, key := range s.held {
		keys = append(keys, key)
		args = append(args, id)
	}
	return keys, args
}
