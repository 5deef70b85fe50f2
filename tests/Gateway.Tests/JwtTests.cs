using System.Net;
using System.Net.Http.Json;
using CrewPlatform.Gateway.Tests.Support;
using CrewPlatform.Testing;

namespace CrewPlatform.Gateway.Tests;

public sealed class JwtTests(Backends backends, TokenIssuer issuer) : IClassFixture<Backends>, IClassFixture<TokenIssuer>
{
    /// <summary>JWTs with keys from the issuer's JWKS, next to the admin token.</summary>
    private Dictionary<string, string?> JwksSettings()
    {
        var settings = backends.GatewaySettings();
        settings["CREW_JWT_JWKS_URL"] = issuer.JwksUrl;
        settings["CREW_JWT_ISSUER"] = issuer.Issuer;
        settings["CREW_JWT_AUDIENCE"] = TokenIssuer.Audience;
        return settings;
    }

    private static Dictionary<string, object> Role(string claim, object value) => new() { [claim] = value };

    [Fact]
    public async Task A_valid_admin_token_is_routed_for_reads_and_control()
    {
        await using var gateway = new GatewayFactory(JwksSettings());
        using var client = gateway.CreateAuthorizedClient(issuer.Mint("ci-robot", Role("role", "admin")));

        var read = await client.GetAsync("/api/crew-responses/42");
        var control = await client.PostAsJsonAsync("/api/scheduler", new { action = "start" });

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(HttpStatusCode.OK, control.StatusCode);
        var echoed = (await control.Content.ReadFromJsonAsync<EchoedRequest>())!;
        Assert.Equal("POST", echoed.Method);
        Assert.False(echoed.Headers.ContainsKey("Authorization"), "the backend must not see the token");
        Assert.Contains(gateway.Logs.Entries, entry => entry.Message.StartsWith("POST /api/scheduler answered 200", StringComparison.Ordinal)
            && entry.Message.EndsWith(" as jwt:ci-robot", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_read_token_may_read_and_gets_403_on_control()
    {
        await using var gateway = new GatewayFactory(JwksSettings());
        using var client = gateway.CreateAuthorizedClient(issuer.Mint("dashboard", Role("role", "read")));

        var read = await client.GetAsync("/api/scheduler");
        var control = await client.PostAsJsonAsync("/api/scheduler/run-now", new { });

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, control.StatusCode);
        Assert.Equal("This token's role 'read' cannot POST /api/scheduler/run-now; an admin token is required", await control.ReadErrorEnvelopeAsync());
    }

    [Fact]
    public async Task A_token_without_a_known_role_gets_403()
    {
        await using var gateway = new GatewayFactory(JwksSettings());
        using var client = gateway.CreateAuthorizedClient(issuer.Mint("someone", Role("role", "superuser")));

        var response = await client.GetAsync("/api/scheduler");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("no role the gateway knows", await response.ReadErrorEnvelopeAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_role_claim_is_configurable_and_may_be_a_list()
    {
        var settings = JwksSettings();
        settings["CREW_JWT_ROLE_CLAIM"] = "roles";
        await using var gateway = new GatewayFactory(settings);
        using var listed = gateway.CreateAuthorizedClient(issuer.Mint("ops", Role("roles", new[] { "read", "admin" })));
        using var otherClaim = gateway.CreateAuthorizedClient(issuer.Mint("ops", Role("role", "admin")));

        Assert.Equal(HttpStatusCode.OK, (await listed.DeleteAsync("/api/crew-responses/42")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await otherClaim.DeleteAsync("/api/crew-responses/42")).StatusCode);
    }

    public static TheoryData<string> BadTokens => new() { "wrong audience", "wrong issuer", "expired", "bad signature", "tampered" };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task A_bad_token_gets_401_in_the_envelope(string whatIsWrong)
    {
        var admin = Role("role", "admin");
        var token = whatIsWrong switch
        {
            "wrong audience" => issuer.Mint("ops", admin, audience: "another-api"),
            "wrong issuer" => issuer.Mint("ops", admin, issuer: "https://someone-else.example"),
            "expired" => issuer.Mint("ops", admin, expires: DateTime.UtcNow.AddHours(-1)),
            "bad signature" => issuer.Mint("ops", admin, signedByAnotherKey: true),
            _ => Tampered(issuer.Mint("ops", Role("role", "read"))),
        };
        await using var gateway = new GatewayFactory(JwksSettings());
        using var client = gateway.CreateAuthorizedClient(token);

        var response = await client.GetAsync("/api/scheduler");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        Assert.Equal("Invalid token", await response.ReadErrorEnvelopeAsync());
    }

    [Fact]
    public async Task With_an_authority_the_keys_and_issuer_come_from_its_discovery_document()
    {
        var settings = backends.GatewaySettings();
        settings["CREW_JWT_AUTHORITY"] = issuer.Url;
        settings["CREW_JWT_AUDIENCE"] = TokenIssuer.Audience;
        await using var gateway = new GatewayFactory(settings);
        using var admin = gateway.CreateAuthorizedClient(issuer.Mint("ops", Role("role", "admin")));
        using var stranger = gateway.CreateAuthorizedClient(issuer.Mint("ops", Role("role", "admin"), issuer: "https://someone-else.example"));

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync("/api/scheduler", new { intervalMinutes = 5 })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await stranger.GetAsync("/api/scheduler")).StatusCode);
    }

    [Fact]
    public async Task API_keys_keep_working_when_JWTs_are_accepted_and_JWTs_alone_are_enough_to_start()
    {
        var settings = JwksSettings();
        settings["CREW_ADMIN_TOKEN"] = null;
        settings["CREW_API_KEYS"] = "ops:admin:ops-key-0123456789abcdef";
        await using var gateway = new GatewayFactory(settings);
        using var keyed = gateway.CreateAuthorizedClient("ops-key-0123456789abcdef");
        Assert.Equal(HttpStatusCode.OK, (await keyed.PostAsJsonAsync("/api/scheduler", new { action = "stop" })).StatusCode);

        settings["CREW_API_KEYS"] = null;
        await using var jwtOnly = new GatewayFactory(settings);
        using var client = jwtOnly.CreateAuthorizedClient(issuer.Mint("ops", Role("role", "read")));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/scheduler")).StatusCode);
    }

    [Fact]
    public async Task A_JWT_is_not_accepted_while_JWT_bearer_is_off()
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateAuthorizedClient(issuer.Mint("ops", Role("role", "admin")));

        var response = await client.GetAsync("/api/scheduler");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Invalid token", await response.ReadErrorEnvelopeAsync());
    }

    [Theory]
    [InlineData("CREW_JWT_AUDIENCE", null, "CREW_JWT_AUDIENCE must be set")]
    [InlineData("CREW_JWT_ISSUER", null, "CREW_JWT_ISSUER must be set with CREW_JWT_JWKS_URL")]
    [InlineData("CREW_JWT_JWKS_URL", "http://idp.example/jwks.json", "CREW_JWT_JWKS_URL must be an absolute https:// URL")]
    [InlineData("CREW_JWT_JWKS_URL", "not a url", "CREW_JWT_JWKS_URL must be an absolute https:// URL")]
    [InlineData("CREW_JWT_JWKS_URL", null, "CREW_JWT_ISSUER/CREW_JWT_AUDIENCE are set but neither")]
    public async Task The_gateway_refuses_to_start_with_an_incomplete_JWT_setup(string key, string? value, string problem)
    {
        var settings = JwksSettings();
        settings[key] = value;
        await using var gateway = new GatewayFactory(settings);

        Assert.Contains(problem, gateway.StartupFailure().Message, StringComparison.Ordinal);
    }

    // The payload of a read token changed to admin, the signature kept.
    private static string Tampered(string token)
    {
        var parts = token.Split('.');
        var payload = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(parts[1]).Replace("\"read\"", "\"admin\"", StringComparison.Ordinal);
        return $"{parts[0]}.{Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(payload)}.{parts[2]}";
    }
}
