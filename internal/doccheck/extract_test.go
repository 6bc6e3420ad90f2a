package doccheck

import (
	"strings"
	"testing"
)

func TestExtract(t *testing.T) {
	tests := []struct {
		name    string
		md      string
		want    []Block // File, Line, Kind, Preamble, Reason, Code
		wantErr string
	}{
		{
			name: "program needs no marker",
			md:   "text\n\n```go\npackage main\n\nfunc main() {}\n```\n",
			want: []Block{{Line: 4, Kind: Program, Code: "package main\n\nfunc main() {}\n"}},
		},
		{
			name: "fragment in a list item",
			md:   "- item\n\n  <!-- doccheck: fragment auth -->\n  ```go\n  x := 1\n  \tf(x)\n  ```\n",
			want: []Block{{Line: 5, Kind: Fragment, Preamble: "auth", Code: "x := 1\n\tf(x)\n"}},
		},
		{
			name: "skip with a reason",
			md:   "<!-- doccheck: skip shows a compile error on purpose -->\n```go\nx :=\n```\n",
			want: []Block{{Line: 3, Kind: Skip, Reason: "shows a compile error on purpose", Code: "x :=\n"}},
		},
		{
			name: "other languages are not Go blocks",
			md:   "```sh\ngo test ./...\n```\n```\nfunc f() {}\n```\n~~~js\nx()\n~~~\n",
		},
		{
			name:    "fragment without a marker",
			md:      "```go\nx := 1\n```\n",
			wantErr: "f.md:1: ```go block with neither",
		},
		{
			name:    "skip without a reason",
			md:      "<!-- doccheck: skip -->\n```go\nx := 1\n```\n",
			wantErr: "f.md:1: doccheck marker \"skip\"",
		},
		{
			name:    "marker with text before the block",
			md:      "<!-- doccheck: fragment auth -->\nprose\n```go\nx := 1\n```\n",
			wantErr: "f.md:1: doccheck marker not followed by a ```go block",
		},
		{
			name:    "marker on a shell block",
			md:      "<!-- doccheck: fragment auth -->\n```sh\nls\n```\n",
			wantErr: "f.md:1: doccheck marker on a \"sh\" block",
		},
		{
			name:    "marker at the end",
			md:      "<!-- doccheck: fragment auth -->\n",
			wantErr: "f.md:1: doccheck marker not followed",
		},
		{
			name:    "marker on two lines",
			md:      "<!-- doccheck: fragment\nauth -->\n```go\nx := 1\n```\n",
			wantErr: "f.md:1: malformed doccheck marker",
		},
		{
			name:    "unclosed fence",
			md:      "```go\npackage main\n",
			wantErr: "f.md:1: unclosed code fence",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Extract("f.md", []byte(tt.md))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d blocks %+v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				w.File = "f.md"
				if got[i] != w {
					t.Errorf("block %d: %+v, want %+v", i, got[i], w)
				}
			}
		})
	}
}

func TestFragmentFile(t *testing.T) {
	b := Block{File: "f.md", Line: 10, Kind: Fragment, Preamble: "p", Code: "import sg \"example.com/sg\"\n\nmux := http.NewServeMux()\nmux.Handle(\"/\", sg.H(users))\nif err != nil { ... }\n...\n"}
	src, err := FragmentFile("p", "/abs/f.md", b, map[string]bool{"users": true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\tsg \"example.com/sg\"\n",
		"\t\"net/http\"\n",
		"//line /abs/f.md:10\n\n\nmux := http.NewServeMux()\n", // the import's lines stay, blank
		"if err != nil { /* ... */ }\n// ...\n",
		"\t_ = mux\n}\n",
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("generated file lacks %q:\n%s", want, src)
		}
	}
	// mux is the local variable, not gorilla/mux; users is the preamble's.
	for _, bad := range []string{"gorilla", "_ = users"} {
		if strings.Contains(string(src), bad) {
			t.Errorf("generated file has %q:\n%s", bad, src)
		}
	}

	e := Block{File: "f.md", Line: 3, Kind: Fragment, Code: "func(c *gin.Context) {\n\tc.Next()\n}\n"}
	src, err = FragmentFile("p", "/abs/f.md", e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "//line /abs/f.md:3\n_ = func(c *gin.Context) {\n") {
		t.Errorf("an expression fragment is not assigned:\n%s", src)
	}
}
