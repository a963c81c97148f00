// A first-party service and its client written with nothing but the Go bakery's stock
// httpbakery: it mints a macaroon with a v3 third-party caveat addressed to the Tessera server
// at os.Args[1] (condition os.Args[2]), gets the discharge with httpbakery.Client and its
// WebBrowserInteractor (which just prints the URL to visit), then checks the result with its
// own bakery. Prints "VISIT <url>" and "VERIFIED approved-by=<name>"; exits 1 with the error.
// Run by test/bakery-interop.test.ts through peers.sh.
package main

import (
	"context"
	"fmt"
	"net/url"
	"os"

	"github.com/go-macaroon-bakery/macaroon-bakery/v3/bakery"
	"github.com/go-macaroon-bakery/macaroon-bakery/v3/bakery/checkers"
	"github.com/go-macaroon-bakery/macaroon-bakery/v3/httpbakery"
)

// The operation the macaroon authorizes, checked on the service side.
var deployOp = bakery.Op{Entity: "service", Action: "deploy"}

func main() {
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
}

func run(tessera, condition string) error {
	ctx := context.Background()
	locator := httpbakery.NewThirdPartyLocator(nil, nil)
	locator.AllowInsecure() // the test server is on loopback http
	b := bakery.New(bakery.BakeryParams{Location: "https://go-service.example", Locator: locator, Key: bakery.MustGenerateKey()})
	cav := checkers.NeedDeclaredCaveat(checkers.Caveat{Location: tessera, Condition: condition}, "approved-by")
	m, err := b.Oven.NewMacaroon(ctx, bakery.LatestVersion, []checkers.Caveat{cav}, deployOp)
	if err != nil {
		return fmt.Errorf("mint: %v", err)
	}
	client := httpbakery.NewClient()
	client.AddInteractor(httpbakery.WebBrowserInteractor{OpenWebBrowser: func(u *url.URL) error {
		fmt.Println("VISIT", u.String())
		return nil
	}})
	ms, err := client.DischargeAll(ctx, m)
	if err != nil {
		return fmt.Errorf("discharge: %v", err)
	}
	if _, err := b.Checker.Auth(ms).Allow(ctx, deployOp); err != nil {
		return fmt.Errorf("verify: %v", err)
	}
	declared := checkers.InferDeclared(nil, ms)
	fmt.Printf("VERIFIED approved-by=%s\n", declared["approved-by"])
	return nil
}
