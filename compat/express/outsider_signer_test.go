package express_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/internal/interoptest"
	"github.com/sessionkit/sessionkit/internal/testenv"
)

// nodeSignature signs and reads cookies as express-session 1.19 does, with
// the cookie-signature and cookie packages it depends on: setcookie's
// cookie.serialize(name, 's:' + signature.sign(id, secrets[0])) and
// getcookie's cookie.parse, then unsigncookie over every secret.
const nodeSignature = `
const path = require('path');
const from = { paths: [path.dirname(require.resolve('express-session'))] };
const signature = require(require.resolve('cookie-signature', from));
const cookie = require(require.resolve('cookie', from));
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
console.log(JSON.stringify(cases.map((c) => {
  const set = cookie.serialize('connect.sid', 's:' + signature.sign(c.id, c.secrets[0]));
  const read = c.values.map((v) => {
    const raw = cookie.parse('connect.sid=' + v)['connect.sid'];
    if (typeof raw !== 'string' || raw.substr(0, 2) !== 's:') return false;
    for (const s of c.secrets) {
      const id = signature.unsign(raw.slice(2), s);
      if (id !== false) return id;
    }
    return false;
  });
  return { sign: set.slice('connect.sid='.length), read };
})));
`

// TestOutsiderSignerMatchesExpressSession: Signer's "the cookie value is
// "s:" + id + "." + sig […] encoded as JavaScript's encodeURIComponent
// encodes it", "Secrets are used as their UTF-8 bytes, as Node.js uses a
// string secret", and Verify's "the value is percent-decoded only when it
// contains '%' (and used as it is when that decoding fails); '+' is never
// read as a space. A value without the "s:" prefix is not a session" —
// against the packages express-session itself uses.
func TestOutsiderSignerMatchesExpressSession(t *testing.T) {
	t.Parallel()
	modules := testenv.Getenv(t, testenv.NodeModulesEnv)
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.SkipOrFail(t, "node is not installed")
	}
	type tc struct {
		Secrets []string `json:"secrets"`
		ID      string   `json:"id"`
		Values  []string `json:"values"`
	}
	secretSets := [][]string{{"keyboard cat"}, {"ü ключ 😀", "keyboard cat"}, {strings.Repeat("long secret ", 20), "b", "c"}}
	ids := []string{express.IDs{}.NewID(), express.IDs{}.NewID(), "with.dots.in.it", "ü id 😀", "a+b/c=d"}
	lower := regexp.MustCompile(`%[0-9A-F]{2}`)
	var cases []tc
	for _, secrets := range secretSets {
		for _, id := range ids {
			var values []string
			for i := range secrets {
				s := must(express.NewSigner(secrets[i]))
				v := s.Sign(id)
				plain, _ := express.DecodeURIComponent(v)
				values = append(values, v, plain,
					lower.ReplaceAllStringFunc(v, strings.ToLower),
					v+"%", v+"=", v[:len(v)-1], strings.Replace(v, "s%3A", "", 1),
					strings.ReplaceAll(v, "%2B", "+"), strings.ReplaceAll(v, "%2B", " "))
			}
			values = append(values, must(express.NewSigner("another secret")).Sign(id), "", "s:", "s%3A."+id)
			cases = append(cases, tc{secrets, id, values})
		}
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(node, "-e", nodeSignature)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var want []struct {
		Sign string `json:"sign"`
		Read []any  `json:"read"`
	}
	if err := json.Unmarshal(out, &want); err != nil || len(want) != len(cases) {
		t.Fatalf("node answered %s (%v)", out, err)
	}
	for i, c := range cases {
		s := must(express.NewSigner(c.Secrets...))
		if got := s.Sign(c.ID); got != want[i].Sign {
			t.Errorf("%q: Sign(%q) = %q, express-session sets %q", c.Secrets, c.ID, got, want[i].Sign)
		}
		for j, v := range c.Values {
			var got any = false
			if id, ok := s.Verify(v); ok {
				got = id
			}
			if got != want[i].Read[j] {
				t.Errorf("%q: Verify(%q) = %v, express-session reads %v", c.Secrets, v, got, want[i].Read[j])
			}
		}
	}
}

// TestOutsiderUnsetSecrets: the guide's "Every secret in the list must be
// set: Configure refuses an empty one […]. express-session does not check:
// an undefined secret makes it fail with a 500 on the first cookie that no
// earlier secret verifies, and an empty string is an HMAC key anyone can
// sign cookies with."
func TestOutsiderUnsetSecrets(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	for _, secrets := range [][]string{{newSecret, ""}, {"", newSecret}} {
		m := sessionkit.New(store)
		if err := express.Configure(m, express.Options{Secrets: secrets}); err == nil {
			t.Fatalf("Configure accepted secrets %q", secrets)
		}
	}
	unknown := must(express.NewSigner("not one of the secrets")).Sign(express.IDs{}.NewID())

	undefined := startNode(t, "redis", redisURL, prefix, `SECRETS=["`+newSecret+`",null]`)
	c := interoptest.NewClient(t)
	c.NodeLogin(undefined, "ann", "pw1")
	c.WantUser(undefined, "ann") // the first secret verifies
	d := interoptest.NewClient(t)
	d.SetCookies(undefined, map[string]string{sid: unknown})
	if code, _, _ := d.Req("GET", undefined+"/whoami"); code != http.StatusInternalServerError {
		t.Fatalf("express-session with an undefined secret, a cookie no secret verifies: %d, want 500", code)
	}

	empty := startNode(t, "redis", redisURL, prefix, `SECRETS=["`+newSecret+`",""]`)
	e := interoptest.NewClient(t)
	e.NodeLogin(empty, "ann", "pw1")
	id := e.Get(empty + "/whoami")["id"].(string)
	mac := hmac.New(sha256.New, nil) // the empty key: anyone can compute it
	mac.Write([]byte(id))
	forged := express.EncodeURIComponent("s:" + id + "." + base64.RawStdEncoding.EncodeToString(mac.Sum(nil)))
	f := interoptest.NewClient(t)
	f.SetCookies(empty, map[string]string{sid: forged})
	f.WantUser(empty, "ann")
}
