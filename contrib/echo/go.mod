module github.com/sessionkit/sessionkit/contrib/echo

go 1.26.0

require (
	github.com/labstack/echo/v5 v5.4.4
	github.com/sessionkit/sessionkit v0.0.0
)

require (
	github.com/coreos/go-oidc/v3 v3.21.0 // indirect
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/oauth2 v0.38.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/sessionkit/sessionkit => ../..
