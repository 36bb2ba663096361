// Package version identifies this build in outbound requests and logs.
package version

// Version is the release of this build, set at link time with
// -ldflags "-X github.com/logistos-sync/logistos-sync/shared/version.Version=v1.2.3".
var Version = "dev"

// UserAgent is the User-Agent every outbound HTTP request carries, so that the
// shop's and Logistos's logs can tell our traffic apart and name the release.
func UserAgent() string {
	return "logistos-sync/" + Version + " (+https://github.com/logistos-sync/logistos-sync)"
}
