package sessiongin_test

import (
	"net/http"
	"net/http/httptest"
)

// performRequest is gin's own testing idiom: the engine serves a recorder.
func performRequest(h http.Handler, method, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}
