package keystone

import (
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
	UserDomainID      string `json:"user_domain_id"`
	ProjectDomainID   string `json:"project_domain_id"`

	ApplicationCredentialID     string `json:"application_credential_id"`
	ApplicationCredentialSecret string `json:"application_credential_secret"`
}

// String keeps the secret out of any log line or error that formats it.
func (Credentials) String() string { return "keystone.Credentials{…}" }

// GoString is String for %#v.
func (c Credentials) GoString() string { return c.String() }

// ParseCredentials reads the secret's JSON: {"username", "password",
// "user_domain_name" or "user_domain_id" (default: the name "Default"),
// "project_name", "project_domain_name" or "project_domain_id" (default:
// the name "Default")} or {"application_credential_id",
// "application_credential_secret"}. Other fields are ignored, so that a
// secret copied from an openrc or clouds.yaml (auth_url, region_name,
// project_id, interface, ...) works as it is. Its errors never quote the
// secret.
func ParseCredentials(b []byte) (Credentials, error) {
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil {
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
		if c.UserDomainName == "" && c.UserDomainID == "" {
			c.UserDomainName = "Default"
		}
		if c.ProjectDomainName == "" && c.ProjectDomainID == "" {
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
				"name": c.Username, "domain": domainRef(c.UserDomainID, c.UserDomainName), "password": c.Password,
			}},
		},
		"scope": map[string]any{"project": map[string]any{
			"name": c.ProjectName, "domain": domainRef(c.ProjectDomainID, c.ProjectDomainName),
		}},
	}}
}

// domainRef names a domain by id when one is given (Keystone takes one of
// the two), else by name.
func domainRef(id, name string) map[string]any {
	if id != "" {
		return map[string]any{"id": id}
	}
	return map[string]any{"name": name}
}
