package keystone

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// The authorizer's context keys, which the route functions read
// (lambdafn.KeystoneAuth).
const (
	CtxUserID       = "user_id"
	CtxProjectID    = "project_id"
	CtxRoles        = "roles" // a JSON array of role names
	CtxSystem       = "system"
	CtxExpiresAt    = "expires_at"
	CtxErrorStatus  = "error_status"
	CtxErrorMessage = "error_message"
)

// Budget bounds one invocation of the authorizer: API Gateway waits 10 s
// for it, and an answer after that is a bare 500 for the caller. It covers
// everything the invocation does (keystonefn's read of the credentials
// when they are not read yet, then a sign-in, a validation and at most one
// more of each), so that the verdict, even a 503, arrives in time.
const Budget = 8 * time.Second

// MsgUnavailable is the 503's message.
const MsgUnavailable = "The identity service is unavailable."

// Validator validates a token: *Client.
type Validator interface {
	Validate(ctx context.Context, token string) (Identity, error)
}

// Authorizer is the Lambda REQUEST authorizer (payload 2.0, simple
// responses). It answers isAuthorized: true whenever it reaches a verdict,
// with the verdict in the context, so that the route function answers
// with the contract's fault shape and request id: API Gateway's own deny
// is a bare 403, and an error returned to Lambda a bare 500.
type Authorizer struct {
	Keystone Validator
	Cache    *Cache
	Log      *slog.Logger
}

// Handle is the function's handler. Its error is always nil.
func (a *Authorizer) Handle(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	token := header(req.Headers, "X-Auth-Token")
	if token == "" {
		return refused(http.StatusUnauthorized, MsgMissing), nil
	}
	if id, refusal, ok := a.Cache.Get(token); ok {
		if refusal != nil {
			return refused(http.StatusUnauthorized, refusal.Message), nil
		}
		return allowed(id), nil
	}
	// Within Budget unless the caller (keystonefn) has set an earlier
	// deadline for the whole invocation.
	ctx, cancel := context.WithTimeout(ctx, Budget)
	defer cancel()
	id, err := a.Keystone.Validate(ctx, token)
	var refusal *Refusal
	switch {
	case errors.As(err, &refusal):
		// Kept briefly (RefusalTTL), so that a made-up token sent again
		// and again does not reach Keystone each time.
		a.Cache.PutRefusal(token, refusal)
		return refused(http.StatusUnauthorized, refusal.Message), nil
	case err != nil:
		// Keystone's or the network's text goes to the log only.
		a.Log.Warn("keystone unavailable", "error", err.Error(), "route", req.RouteKey)
		return refused(http.StatusServiceUnavailable, MsgUnavailable), nil
	}
	a.Cache.Put(token, id)
	return allowed(id), nil
}

// header reads a header by name; API Gateway hands them lower-cased.
func header(h map[string]string, name string) string {
	if v, ok := h[strings.ToLower(name)]; ok {
		return strings.TrimSpace(v)
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func allowed(id Identity) events.APIGatewayV2CustomAuthorizerSimpleResponse {
	roles := id.Roles
	if roles == nil {
		roles = []string{}
	}
	rolesJSON, _ := json.Marshal(roles)
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: map[string]any{
		CtxUserID:    id.UserID,
		CtxProjectID: id.ProjectID,
		CtxRoles:     string(rolesJSON),
		CtxSystem:    id.System,
		CtxExpiresAt: id.ExpiresAt.UTC().Format(time.RFC3339),
	}}
}

func refused(status int, message string) events.APIGatewayV2CustomAuthorizerSimpleResponse {
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: map[string]any{
		CtxErrorStatus:  strconv.Itoa(status),
		CtxErrorMessage: message,
	}}
}
