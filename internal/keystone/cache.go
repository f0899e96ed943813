package keystone

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultCacheEntries bounds each of the cache's two lists (valid tokens,
// refused tokens): at about 200 bytes an entry, a few MB of the function's
// 128.
const DefaultCacheEntries = 10000

// RefusalTTL is how long a refused token stays refused without asking
// Keystone again: short, since the refusal is cheap to redo, but long
// enough that a made-up token sent on every request costs Keystone one
// call per RefusalTTL rather than one per request.
const RefusalTTL = 30 * time.Second

// Cache keeps Keystone's verdicts, keyed by the SHA-256 of the token (never
// the token itself): valid tokens' identities, each until min(its
// expires_at, stored + TTL), and refusals (401s), each until min(stored +
// RefusalTTL, stored + TTL, the token's expires_at when Keystone gave it).
// Unavailability (503) is never kept: a Keystone that comes back is seen
// at once. Refusals have their own list and bound, so that a flood of
// made-up tokens cannot evict the valid ones; when a list is full, its
// oldest entry goes. TTL 0 keeps nothing.
type Cache struct {
	TTL time.Duration
	Max int // DefaultCacheEntries when 0; the bound of each list
	Now func() time.Time

	mu      sync.Mutex
	valid   lru
	refused lru
}

type lru struct {
	entries map[[32]byte]*list.Element
	order   *list.List // of *cacheEntry, oldest first
}

type cacheEntry struct {
	key     [32]byte
	id      Identity
	refusal *Refusal
	until   time.Time
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (l *lru) get(key [32]byte, now time.Time) (*cacheEntry, bool) {
	el, ok := l.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.until) {
		l.order.Remove(el)
		delete(l.entries, key)
		return nil, false
	}
	return e, true
}

func (l *lru) put(e *cacheEntry, max int) {
	if l.entries == nil {
		l.entries, l.order = map[[32]byte]*list.Element{}, list.New()
	}
	if el, ok := l.entries[e.key]; ok {
		l.order.Remove(el)
	}
	l.entries[e.key] = l.order.PushBack(e)
	for l.order.Len() > max {
		oldest := l.order.Front()
		l.order.Remove(oldest)
		delete(l.entries, oldest.Value.(*cacheEntry).key)
	}
}

func (l *lru) len() int {
	if l.order == nil {
		return 0
	}
	return l.order.Len()
}

// Get returns what is kept of token: its identity (refusal nil), or
// Keystone's refusal of it; ok is false when nothing good is kept.
func (c *Cache) Get(token string) (id Identity, refusal *Refusal, ok bool) {
	key := sha256.Sum256([]byte(token))
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.valid.get(key, now); ok {
		return e.id, nil, true
	}
	if e, ok := c.refused.get(key, now); ok {
		return Identity{}, e.refusal, true
	}
	return Identity{}, nil, false
}

// Put keeps the identity of token.
func (c *Cache) Put(token string, id Identity) {
	c.put(token, c.TTL, id.ExpiresAt, &cacheEntry{id: id}, false)
}

// PutRefusal keeps Keystone's refusal of token.
func (c *Cache) PutRefusal(token string, r *Refusal) {
	ttl := min(c.TTL, RefusalTTL)
	c.put(token, ttl, r.ExpiresAt, &cacheEntry{refusal: r}, true)
}

func (c *Cache) put(token string, ttl time.Duration, expires time.Time, e *cacheEntry, refused bool) {
	if ttl <= 0 {
		return
	}
	now := c.now()
	e.until = now.Add(ttl)
	if !expires.IsZero() && expires.Before(e.until) {
		e.until = expires
	}
	if !now.Before(e.until) {
		return
	}
	e.key = sha256.Sum256([]byte(token))
	max := c.Max
	if max <= 0 {
		max = DefaultCacheEntries
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// A token has one verdict: the newer replaces the other.
	if refused {
		c.valid.remove(e.key)
		c.refused.put(e, max)
	} else {
		c.refused.remove(e.key)
		c.valid.put(e, max)
	}
}

func (l *lru) remove(key [32]byte) {
	if el, ok := l.entries[key]; ok {
		l.order.Remove(el)
		delete(l.entries, key)
	}
}

// Len is the number of entries kept, valid and refused (expired ones
// included until read).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.valid.len() + c.refused.len()
}
