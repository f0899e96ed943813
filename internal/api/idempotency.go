package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"karbor/internal/idempotency"
)

// IdempotencyHeader is the header a create route takes an idempotency key
// from (docs/api.md).
const IdempotencyHeader = "Idempotency-Key"

// IdempotencyTable holds the remembered answers of Idempotent routes.
const IdempotencyTable Table = "IdempotencyTable"

// IdempotencyAccess is what taking an Idempotency-Key costs a route: a
// conditional PutItem to reserve the key (the item it finds comes back
// with the failed condition, no GetItem), an UpdateItem to remember a 200,
// a DeleteItem to free the key after an error.
var IdempotencyAccess = On(IdempotencyTable, PutItem, UpdateItem, DeleteItem)

// Idempotent declares that a create route takes the Idempotency-Key header:
// the same key from the same project with the same request (path and body
// bytes) within 24 hours answers the first 200 again and runs nothing;
// another request with the key gets 409. It adds IdempotencyAccess to the
// route's grants.
//
// A route's screen, when set, sees the body before the key is reserved
// (its fingerprint written): a body it refuses is answered with its error
// and leaves no trace (restore_auth's credentials).
func Idempotent(r Route) Route {
	r.Access = grants(r.Access, IdempotencyAccess)
	r.handle = withIdempotencyKey(r.Name, pathIDs(r.Path), r.screen, r.handle)
	r.idempotent = true
	return r
}

// IsIdempotent reports whether the route takes the Idempotency-Key header.
func (r Route) IsIdempotent() bool { return r.idempotent }

// idempotencyKey returns the request's Idempotency-Key, if it sent one: 1
// to 255 printable ASCII characters, else a 400.
func idempotencyKey(r *request) (string, bool, error) {
	values, ok := r.Header[http.CanonicalHeaderKey(IdempotencyHeader)]
	if !ok {
		return "", false, nil
	}
	invalid := badRequest("Invalid %s header: it must be given once, as 1 to 255 printable ASCII characters.", IdempotencyHeader)
	if len(values) != 1 || len(values[0]) < 1 || len(values[0]) > 255 {
		return "", false, invalid
	}
	for i := 0; i < len(values[0]); i++ {
		if c := values[0][i]; c < 0x20 || c > 0x7e {
			return "", false, invalid
		}
	}
	return values[0], true, nil
}

// withIdempotencyKey runs a create handler under the request's
// Idempotency-Key, if it has one: reserve the key, run the handler, then
// remember its 200 or free the key. Without the header the handler runs
// alone, with no extra call.
func withIdempotencyKey(route string, ids []string, screen func([]byte) error, h handlerFunc) handlerFunc {
	return func(s *Service, r *request) (any, error) {
		key, ok, err := idempotencyKey(r)
		if err != nil || !ok {
			if err != nil {
				return nil, err
			}
			return h(s, r)
		}
		// A malformed id in the path is a 400 before any database access,
		// the key's reservation included.
		for _, name := range ids {
			if _, err := pathUUID(r, name); err != nil {
				return nil, err
			}
		}
		if s.Idempotency == nil {
			return nil, errors.New("route " + route + " takes Idempotency-Key but the service has no idempotency store")
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			return nil, badRequest("The request body could not be read.")
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if len(body) > MaxBodyBytes {
			return h(s, r) // a 413, never remembered
		}
		if screen != nil {
			if err := screen(body); err != nil {
				return nil, err
			}
		}
		res, replay, err := s.Idempotency.Reserve(r.ctx(), idempotency.Key{
			Project: r.tenant, Caller: r.caller.ProjectID, Route: route, Key: key,
		}, idempotency.Fingerprint(r.URL.EscapedPath(), body))
		switch {
		case errors.Is(err, idempotency.ErrOtherRequest):
			return nil, faultf(http.StatusConflict, "%s %s was used for another request.", IdempotencyHeader, key)
		case errors.Is(err, idempotency.ErrInProgress):
			return nil, faultf(http.StatusConflict, "A request with %s %s is in progress.", IdempotencyHeader, key)
		case err != nil:
			return nil, err
		case replay != nil:
			r.log.Info("idempotent replay", "route", route, "status", replay.Status)
			if len(replay.Body) == 0 {
				return nil, nil
			}
			return json.RawMessage(replay.Body), nil
		}
		// Writes after the handler must happen even when the client has
		// gone away.
		ctx := context.WithoutCancel(r.ctx())
		settled := false
		defer func() {
			// An error answer, or a panic: only a 200 is remembered.
			if !settled {
				if err := res.Release(ctx); err != nil {
					r.log.Warn("idempotency key not released", "route", route, "error", err.Error())
				}
			}
		}()
		out, err := h(s, r)
		if err != nil {
			return nil, err
		}
		var data []byte
		if out != nil {
			if data, err = encodeJSON(out); err != nil {
				return nil, err
			}
		}
		switch err := res.Complete(ctx, idempotency.Response{Status: http.StatusOK, Body: data}); {
		case err == nil:
			settled = true
		case errors.Is(err, idempotency.ErrLost):
			// Its lease ran out and another request holds the key now:
			// leave the key to it.
			settled = true
			r.log.Warn("idempotency reservation taken over; answer not remembered", "route", route)
		default:
			// Too large, or DynamoDB failed: answer, and free the key.
			r.log.Warn("answer not remembered", "route", route, "bytes", len(data), "error", err.Error())
		}
		if data == nil {
			return nil, nil
		}
		return json.RawMessage(data), nil
	}
}

// encodeJSON encodes a body as writeJSON sends it, without its final
// newline: writeJSON writes a json.RawMessage of it back unchanged.
func encodeJSON(body any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// pathIDs are the UUID wildcards of a route's path: every {<name>_id} but
// {tenant_id}.
func pathIDs(path string) []string {
	var ids []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "_id}") && seg != "{tenant_id}" {
			ids = append(ids, strings.Trim(seg, "{}"))
		}
	}
	return ids
}
