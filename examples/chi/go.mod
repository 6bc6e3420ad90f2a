module github.com/sessionkit/sessionkit/examples/chi

go 1.26.0

require github.com/sessionkit/sessionkit v0.0.0

require (
	github.com/go-chi/chi/v5 v5.5.0
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/sessionkit/sessionkit => ../..
