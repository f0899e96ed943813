package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"karbor/internal/local/server"
	"karbor/internal/scheduler"
)

// TestTickHandlerRefusals: the local tick route takes POST only, and an
// at that is not RFC 3339 is refused before any tick.
func TestTickHandlerRefusals(t *testing.T) {
	h := server.TickHandler(&scheduler.Scheduler{}) // never ticked here
	for _, tc := range []struct {
		method, query string
		status        int
		body          string
	}{
		{http.MethodGet, "", http.StatusMethodNotAllowed, "POST only"},
		{http.MethodPost, "?at=tomorrow", http.StatusBadRequest, `at="tomorrow" is not an RFC 3339 time`},
		{http.MethodPost, "?at=2026-12-01", http.StatusBadRequest, "is not an RFC 3339 time"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, server.SchedulerTickPath+tc.query, nil))
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s %s: %d %q, want %d containing %q", tc.method, tc.query, rec.Code, rec.Body.String(), tc.status, tc.body)
		}
	}
}
