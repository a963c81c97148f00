"""A first-party service and its client written with nothing but Python's macaroonbakery: it
mints a macaroon with a v3 third-party caveat addressed to the Tessera server at sys.argv[1]
(condition sys.argv[2]), gets the discharge with httpbakery.Client and its WebBrowserInteractor
(which just prints the URL to visit), then checks the result with its own bakery. Prints
"VISIT <url>" and "VERIFIED approved-by=<name>"; exits 1 with the error. Run by
test/bakery-interop.test.ts with Debian's /usr/bin/python3."""
import sys
import traceback
from datetime import datetime, timedelta

import macaroonbakery.bakery as bakery
import macaroonbakery.checkers as checkers
import macaroonbakery.httpbakery as httpbakery


# The operation the macaroon authorizes, checked on the service side.
DEPLOY_OP = bakery.Op(entity='service', action='deploy')


def main(tessera, condition):
    locator = httpbakery.ThirdPartyLocator(allow_insecure=True)  # the test server is on loopback http
    b = bakery.Bakery(location='https://py-service.example', locator=locator, key=bakery.generate_key())
    cav = checkers.need_declared_caveat(checkers.Caveat(location=tessera, condition=condition), ['approved-by'])
    m = b.oven.macaroon(bakery.LATEST_VERSION, datetime.utcnow() + timedelta(minutes=10), [cav], [DEPLOY_OP])
    client = httpbakery.Client(interaction_methods=[
        httpbakery.WebBrowserInteractor(open=lambda url: print('VISIT', url, flush=True))])
    ms = bakery.discharge_all(m, client.acquire_discharge)
    b.checker.auth([ms]).allow(checkers.AuthContext(), [DEPLOY_OP])
    declared = checkers.infer_declared(ms)
    print('VERIFIED approved-by=%s' % declared.get('approved-by'), flush=True)


if __name__ == '__main__':
    try:
        main(sys.argv[1], sys.argv[2])
    except Exception as e:  # the test reads the reason from stdout
        traceback.print_exc()
        print('ERROR', type(e).__name__, e, flush=True)
        sys.exit(1)
