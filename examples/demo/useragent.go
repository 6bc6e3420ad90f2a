package main

import "strings"

// describeUA turns a User-Agent header into a short label such as
// "Chrome 131 on Linux". It knows the common browsers and systems only;
// anything else is "Other browser".
func describeUA(ua string) string {
	if strings.TrimSpace(ua) == "" {
		return "Unknown browser"
	}
	browsers := []struct{ token, name string }{
		{"Edg/", "Edge"},
		{"OPR/", "Opera"},
		{"Firefox/", "Firefox"},
		{"HeadlessChrome/", "Headless Chrome"},
		{"Chrome/", "Chrome"},
		{"CriOS/", "Chrome"},
		{"Version/", "Safari"}, // Safari puts its version here
		{"curl/", "curl"},
		{"Go-http-client/", "Go HTTP client"},
	}
	browser := "Other browser"
	for _, b := range browsers {
		i := strings.Index(ua, b.token)
		if i < 0 || (b.name == "Safari" && !strings.Contains(ua, "Safari/")) {
			continue
		}
		browser = b.name
		if v := major(ua[i+len(b.token):]); v != "" {
			browser += " " + v
		}
		break
	}
	systems := []struct{ token, name string }{
		{"Windows", "Windows"},
		{"Android", "Android"},
		{"iPhone", "iOS"},
		{"iPad", "iPadOS"},
		{"CrOS", "ChromeOS"},
		{"Mac OS X", "macOS"},
		{"Linux", "Linux"},
	}
	for _, s := range systems {
		if strings.Contains(ua, s.token) {
			return browser + " on " + s.name
		}
	}
	return browser
}

// major returns the leading run of digits of s.
func major(s string) string {
	n := 0
	for n < len(s) && n < 6 && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return s[:n]
}
