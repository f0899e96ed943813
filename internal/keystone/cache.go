package keystone

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultCacheEntries bounds the cache: at about 200 bytes an entry, a few
// MB of the function's 128.
const DefaultCacheEntries = 10000

// Cache keeps valid tokens' identities, keyed by the SHA-256 of the token
// (never the token itself), each until min(its expires_at, stored + TTL).
// Refusals and unavailability are not kept: a refused token costs a call
// to Keystone each time, and a Keystone that comes back is seen at once.
// When full, the oldest entry goes.
type Cache struct {
	TTL time.Duration
	Max int // DefaultCacheEntries when 0
	Now func() time.Time

	mu      sync.Mutex
	entries map[[32]byte]*list.Element
	order   *list.List // of *cacheEntry, oldest first
}

type cacheEntry struct {
	key   [32]byte
	id    Identity
	until time.Time
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Get returns the identity of token, if kept and still good.
func (c *Cache) Get(token string) (Identity, bool) {
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return Identity{}, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.until) {
		c.order.Remove(el)
		delete(c.entries, key)
		return Identity{}, false
	}
	return e.id, true
}

// Put keeps the identity of token.
func (c *Cache) Put(token string, id Identity) {
	if c.TTL <= 0 {
		return
	}
	until := c.now().Add(c.TTL)
	if id.ExpiresAt.Before(until) {
		until = id.ExpiresAt
	}
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries, c.order = map[[32]byte]*list.Element{}, list.New()
	}
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
	}
	c.entries[key] = c.order.PushBack(&cacheEntry{key: key, id: id, until: until})
	max := c.Max
	if max <= 0 {
		max = DefaultCacheEntries
	}
	for c.order.Len() > max {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}

// Len is the number of entries kept (expired ones included until read).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.order == nil {
		return 0
	}
	return c.order.Len()
}
