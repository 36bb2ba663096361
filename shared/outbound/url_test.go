package outbound

import "testing"

// Only a name or address of this machine is loopback: a public name that
// starts like one is not.
func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.8.9.1": true, "::1": true,
		"127.0.0.1.evil.example": false, "localhost.evil.example": false, "0.0.0.0": false,
		"10.0.0.1": false, "shop.example": false, "": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string][2]bool{ // {CheckURL, CheckSecureURL}
		"https://shop.example/x": {true, true},
		"http://shop.example/x":  {true, false},
		"http://127.0.0.1:8089":  {true, true},
		"http://[::1]:9/x":       {true, true},
		"ftp://shop.example":     {false, false},
		"shop.example":           {false, false},
		"":                       {false, false},
	} {
		if got := CheckURL(raw) == nil; got != ok[0] {
			t.Errorf("CheckURL(%q) ok = %v, want %v", raw, got, ok[0])
		}
		if got := CheckSecureURL(raw) == nil; got != ok[1] {
			t.Errorf("CheckSecureURL(%q) ok = %v, want %v", raw, got, ok[1])
		}
	}
}
