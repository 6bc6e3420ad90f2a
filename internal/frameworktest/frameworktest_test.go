package frameworktest_test

import (
	"net/http"
	"testing"

	"github.com/sessionkit/sessionkit/internal/frameworktest"
)

// TestServeMux runs the suite on net/http's own mux: the reference every
// adapter is held to.
func TestServeMux(t *testing.T) {
	frameworktest.Run(t, func(t *testing.T, e *frameworktest.Env) http.Handler {
		return frameworktest.ServeMux(e)
	})
}

func BenchmarkServeMux(b *testing.B) {
	frameworktest.Bench(b, frameworktest.ServeMux(frameworktest.NewEnv(b)))
}
