module github.com/sessionkit/sessionkit/contrib/echo

go 1.26.0

require (
	github.com/labstack/echo/v5 v5.4.4
	github.com/sessionkit/sessionkit v0.0.0
)

require (
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/sessionkit/sessionkit => ../..
