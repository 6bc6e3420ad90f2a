package keygrip_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"hash"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/compat/keygrip"
	"github.com/sessionkit/sessionkit/internal/testenv"
)

// nodeKeygrip signs and indexes with the real keygrip (1.1.0, installed
// with cookie-session's test app): for each case, sign(data) and
// index(data, digest) of new Keygrip(keys, alg).
const nodeKeygrip = `
const Keygrip = require('keygrip');
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
console.log(JSON.stringify(cases.map((c) => {
  const kg = new Keygrip(c.keys, c.alg);
  return { sign: kg.sign(c.data), index: c.digests.map((d) => kg.index(c.data, d)) };
})));
`

// TestOutsiderMatchesKeygrip: the package doc's "signs cookies the way the
// Keygrip package of Node.js does", New's "Keys are used as their UTF-8
// bytes, as Node.js uses a string key", NewHash's "as new Keygrip(keys,
// algorithm) does" and Index's "as keygrip.index(data, digest)" — checked
// against the real keygrip for unicode keys and data, several keys and
// algorithms, and altered digests.
func TestOutsiderMatchesKeygrip(t *testing.T) {
	modules := testenv.Getenv(t, testenv.CookieSessionNodeModulesEnv)
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.SkipOrFail(t, "node is not installed")
	}
	algs := map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}
	type tc struct {
		Keys    []string `json:"keys"`
		Alg     string   `json:"alg"`
		Data    string   `json:"data"`
		Digests []string `json:"digests"`
	}
	var cases []tc
	keySets := [][]string{
		{"keyboard cat"},
		{"ü ключ 😀", "second"},
		{"new", "older", "oldest"},
		{strings.Repeat("long key ", 40)}, // longer than the hash's block
	}
	datas := []string{"session=eyJhIjoxfQ==", "", "koa.sess=é😀\u2028", "a=b=c; d"}
	for alg := range algs {
		for _, keys := range keySets {
			for _, data := range datas {
				var digests []string
				for _, k := range keys {
					kg, err := keygrip.NewHash(algs[alg], k)
					if err != nil {
						t.Fatal(err)
					}
					d := kg.Sign(data)
					digests = append(digests, d, d+"=", strings.ToUpper(d), d[:len(d)-1], strings.NewReplacer("-", "+", "_", "/").Replace(d))
				}
				cases = append(cases, tc{keys, alg, data, append(digests, "")})
			}
		}
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(node, "-e", nodeKeygrip)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var want []struct {
		Sign  string `json:"sign"`
		Index []int  `json:"index"`
	}
	if err := json.Unmarshal(out, &want); err != nil || len(want) != len(cases) {
		t.Fatalf("node answered %s (%v)", out, err)
	}
	for i, c := range cases {
		kg, err := keygrip.NewHash(algs[c.Alg], c.Keys...)
		if err != nil {
			t.Fatal(err)
		}
		if got := kg.Sign(c.Data); got != want[i].Sign {
			t.Errorf("%s %q: Sign(%q) = %q, keygrip %q", c.Alg, c.Keys, c.Data, got, want[i].Sign)
		}
		for j, d := range c.Digests {
			if got := kg.Index(c.Data, d); got != want[i].Index[j] {
				t.Errorf("%s %q: Index(%q, %q) = %d, keygrip %d", c.Alg, c.Keys, c.Data, d, got, want[i].Index[j])
			}
		}
	}
}
