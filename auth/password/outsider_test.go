package password_test

import (
	"regexp"
	"testing"

	"github.com/sessionkit/sessionkit/auth/password"
)

// The package documentation's sign-up and sign-in example, across a raise
// of the cost:
//
//	"Every hash carries its own parameters, so raising the cost later does
//	not invalidate stored hashes: Verify reports when a hash was made with
//	other parameters than the current ones, and the application stores a
//	fresh hash while it still has the plain password."
//	$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$...
//	Hash: "with a fresh random salt"; "salt and key are unpadded standard
//	base64"
func TestOutsiderCostRaise(t *testing.T) {
	// Stored before the cost was raised to the defaults.
	before := password.Params{Memory: 64, Time: 1, Threads: 1}
	stored, err := before.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	// Sign-in today, with the package's defaults.
	ok, rehash, err := password.Verify("correct horse", stored)
	if err != nil || !ok || !rehash {
		t.Fatalf("old hash under the raised cost: %v, %v, %v; want a match that asks for a rehash", ok, rehash, err)
	}
	if ok, _, err := password.Verify("correct horsE", stored); ok || err != nil {
		t.Fatalf("wrong password on the old hash: %v, %v", ok, err)
	}
	fresh, err := password.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(fresh) {
		t.Fatalf("default hash %q: want the documented PHC string, 16-byte salt and 32-byte key in unpadded base64", fresh)
	}
	if ok, rehash, err := password.Verify("correct horse", fresh); err != nil || !ok || rehash {
		t.Fatalf("the stored fresh hash: %v, %v, %v; want a match without rehash", ok, rehash, err)
	}
	if again, _ := password.Hash("correct horse"); again == fresh {
		t.Fatal("two hashes of one password are equal: the salt is not fresh")
	}
	// The zero Params is DefaultParams: no rehash either.
	if ok, rehash, err := (password.Params{}).Verify("correct horse", fresh); err != nil || !ok || rehash {
		t.Fatalf("zero Params on a default hash: %v, %v, %v", ok, rehash, err)
	}
	// Lowering the cost is a change of parameters too.
	if ok, rehash, _ := before.Verify("correct horse", fresh); !ok || !rehash {
		t.Fatalf("default hash under the old cost: %v, %v; want a match that asks for a rehash", ok, rehash)
	}
}
