// Package devtoken reads the caller from the local server's development
// token. It is linked into the local server only, never into a Lambda
// function (a test checks).
package devtoken

import (
	"net/http"
	"strings"

	"karbor/internal/api"
	"karbor/internal/domain"
)

// Auth reads the caller from the development token the local server
// accepts: "X-Auth-Token: <user_id>:<project_id>[:<role>,<role>...]". A token
// without roles gets the role member, so that the contract's optional roles
// still let such a caller read and write its project under the default
// policy. It must never be used in Lambda, where the API Gateway authorizer
// says who calls.
type Auth struct{}

// Caller implements api.Authenticator.
func (Auth) Caller(r *http.Request) (domain.Caller, error) {
	token := r.Header.Get("X-Auth-Token")
	if token == "" {
		return domain.Caller{}, api.Unauthorized("Authentication required: send X-Auth-Token: <user_id>:<project_id>[:<role>,...].")
	}
	parts := strings.Split(token, ":")
	if len(parts) < 2 || len(parts) > 3 || !validUserID(parts[0]) || !domain.ValidProjectID(parts[1]) {
		return domain.Caller{}, api.Unauthorized("Malformed X-Auth-Token: expected <user_id>:<project_id>[:<role>,...].")
	}
	c := domain.Caller{UserID: parts[0], ProjectID: parts[1]}
	if len(parts) == 3 {
		for _, role := range strings.Split(parts[2], ",") {
			if role = strings.TrimSpace(role); role != "" {
				c.Roles = append(c.Roles, role)
			}
		}
	}
	if len(c.Roles) == 0 {
		c.Roles = []string{api.RoleMember}
	}
	return c, nil
}

// validUserID accepts 1 to 255 printable ASCII characters.
func validUserID(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}
