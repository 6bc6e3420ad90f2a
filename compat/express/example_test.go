package express_test

import (
	"fmt"

	"github.com/sessionkit/sessionkit/compat/express"
)

// The cookie express-session sets for a session ID, and reading it back
// with a rotated set of secrets.
func ExampleSigner() {
	old, _ := express.NewSigner("keyboard cat")
	value := old.Sign("19lww8624vKCSp5-rKj_MVbXzikR3nJN")
	fmt.Println(value)

	rotated, _ := express.NewSigner("a new secret", "keyboard cat")
	id, ok := rotated.Verify(value)
	fmt.Println(id, ok)
	// Output:
	// s%3A19lww8624vKCSp5-rKj_MVbXzikR3nJN.hWZwtZOBYoP%2FBrBvkwACZSVGEd167ZZsBA0sWdiwKOg
	// 19lww8624vKCSp5-rKj_MVbXzikR3nJN true
}

// A record written by express-session, as the Go side sees it.
func ExampleUserKey() {
	rec := `{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-23T23:27:29.761Z","httpOnly":true,"path":"/"},"passport":{"user":42}}`
	fmt.Printf("%q\n", express.UserKey([]byte(rec)))
	// Output: "42"
}
