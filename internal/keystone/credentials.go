package keystone

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Credentials are the service's own: a user with a project scope, or an
// application credential (which carries its own scope). Never logged: the
// type prints as a placeholder.
type Credentials struct {
	Username          string `json:"username"`
	Password          string `json:"password"`
	UserDomainName    string `json:"user_domain_name"`
	ProjectName       string `json:"project_name"`
	ProjectDomainName string `json:"project_domain_name"`

	ApplicationCredentialID     string `json:"application_credential_id"`
	ApplicationCredentialSecret string `json:"application_credential_secret"`
}

// String keeps the secret out of any log line or error that formats it.
func (Credentials) String() string { return "keystone.Credentials{…}" }

// GoString is String for %#v.
func (c Credentials) GoString() string { return c.String() }

// ParseCredentials reads the secret's JSON: {"username", "password",
// "user_domain_name" (default "Default"), "project_name",
// "project_domain_name" (default "Default")} or
// {"application_credential_id", "application_credential_secret"}. Its
// errors never quote the secret.
func ParseCredentials(b []byte) (Credentials, error) {
	var c Credentials
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Credentials{}, errors.New("the credentials are not a JSON object of the documented fields")
	}
	appCred := c.ApplicationCredentialID != "" || c.ApplicationCredentialSecret != ""
	password := c.Username != "" || c.Password != "" || c.ProjectName != ""
	switch {
	case appCred && password:
		return Credentials{}, errors.New("the credentials hold both a password and an application credential: give one")
	case appCred:
		if c.ApplicationCredentialID == "" || c.ApplicationCredentialSecret == "" {
			return Credentials{}, errors.New("an application credential needs application_credential_id and application_credential_secret")
		}
	case password:
		if c.Username == "" || c.Password == "" || c.ProjectName == "" {
			return Credentials{}, errors.New("password credentials need username, password and project_name")
		}
		if c.UserDomainName == "" {
			c.UserDomainName = "Default"
		}
		if c.ProjectDomainName == "" {
			c.ProjectDomainName = "Default"
		}
	default:
		return Credentials{}, errors.New("the credentials are empty")
	}
	return c, nil
}

// authRequest is the body of POST /v3/auth/tokens.
func (c Credentials) authRequest() map[string]any {
	if c.ApplicationCredentialID != "" {
		// An application credential is scoped already: a scope in the
		// request is refused.
		return map[string]any{"auth": map[string]any{"identity": map[string]any{
			"methods": []string{"application_credential"},
			"application_credential": map[string]any{
				"id": c.ApplicationCredentialID, "secret": c.ApplicationCredentialSecret,
			},
		}}}
	}
	return map[string]any{"auth": map[string]any{
		"identity": map[string]any{
			"methods": []string{"password"},
			"password": map[string]any{"user": map[string]any{
				"name": c.Username, "domain": map[string]any{"name": c.UserDomainName}, "password": c.Password,
			}},
		},
		"scope": map[string]any{"project": map[string]any{
			"name": c.ProjectName, "domain": map[string]any{"name": c.ProjectDomainName},
		}},
	}}
}
