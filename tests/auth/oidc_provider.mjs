// A real OpenID Provider (the `oidc-provider` package from npm) for the OIDC sign-in tests,
// started by tests/auth/oidc_server.py as its own Node process on a loopback port.
//
// Its configuration comes as JSON in argv[2]: {"port", "client": {"client_id",
// "client_secret", "redirect_uris"}, "accounts": {"<login>": {claims...}}, "jwks"}. Its own development
// login and consent forms are used: any password signs in the account named by the login.
// Prints "ready <issuer>" once it listens.
import Provider from "oidc-provider";

const config = JSON.parse(process.argv[2]);
const issuer = `http://127.0.0.1:${config.port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      ...config.client,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  jwks: config.jwks,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "groups"],
  },
  // The claims go into the ID token itself (the relying party reads no userinfo).
  conformIdTokenClaims: false,
  cookies: { keys: ["tests-only-cookie-key-0123456789"] },
  async findAccount(ctx, id) {
    const claims = config.accounts[id];
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
});
// Plain http on loopback: nothing to upgrade.
provider.proxy = false;

const server = provider.listen(config.port, "127.0.0.1", () => {
  console.log(`ready ${issuer}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
