// Package password hashes and verifies passwords with argon2id, in the PHC
// string format that other languages' libraries read and write:
//
//	$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$...
//
// Every hash carries its own parameters, so raising the cost later does not
// invalidate stored hashes: Verify reports when a hash was made with other
// parameters than the current ones, and the application stores a fresh hash
// while it still has the plain password.
//
//	hash, err := password.Hash(pw) // at sign-up
//	...
//	ok, rehash, err := password.Verify(pw, user.Hash) // at sign-in
//	if err != nil || !ok {
//		return errBadCredentials
//	}
//	if rehash {
//		if h, err := password.Hash(pw); err == nil {
//			db.SetHash(user.ID, h)
//		}
//	}
//
// When the user is unknown, call Params.VerifyDummy with the password, so
// that the response takes as long as for a wrong password.
//
// Comparison is constant-time. Parameters read from a stored hash are
// bounded (MaxMemory, MaxTime, MaxThreads), so a corrupted hash cannot make
// a verification exhaust the machine.
package password
