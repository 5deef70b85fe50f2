using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Gateway.Tests.Support;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;

namespace CrewPlatform.Gateway.Tests;

/// <summary>The identity the gateway tells a backend in X-Crew-Actor: the one it authenticated, never a client's copy.</summary>
public sealed class ActorHeaderTests(Backends backends, TokenIssuer issuer) : IClassFixture<Backends>, IClassFixture<TokenIssuer>
{
    private const string OpsKey = "ops-key-0123456789abcdef";

    private Dictionary<string, string?> Settings()
    {
        var settings = backends.GatewaySettings();
        settings["CREW_API_KEYS"] = $"ops.night:admin:{OpsKey}";
        settings["CREW_JWT_JWKS_URL"] = issuer.JwksUrl;
        settings["CREW_JWT_ISSUER"] = issuer.Issuer;
        settings["CREW_JWT_AUDIENCE"] = TokenIssuer.Audience;
        return settings;
    }

    private static async Task<EchoedRequest> PauseAsync(HttpClient client, HttpRequestMessage request)
    {
        request.Headers.Add(CrewActor.Header, "forged-actor");
        request.Content = JsonContent.Create(new { note = "forged" });
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<EchoedRequest>())!;
    }

    private static string? ActorOf(EchoedRequest echoed) =>
        echoed.Headers.TryGetValue(CrewActor.Header, out var value) ? value : null;

    [Fact]
    public async Task An_api_key_is_named_by_its_name_and_a_clients_forged_header_never_reaches_the_backend()
    {
        await using var gateway = new GatewayFactory(Settings());
        using var client = gateway.CreateAuthorizedClient(OpsKey);

        var echoed = await PauseAsync(client, new HttpRequestMessage(HttpMethod.Post, "/api/scheduler/schedules/1/pause"));

        Assert.Equal("ops.night", ActorOf(echoed));
        var legacy = await PauseAsync(gateway.CreateAuthorizedClient(), new HttpRequestMessage(HttpMethod.Post, "/api/scheduler/schedules/1/pause"));
        Assert.Equal("admin", ActorOf(legacy));
    }

    [Fact]
    public async Task A_jwt_is_named_by_its_subject_encoded_so_any_subject_fits_a_header()
    {
        await using var gateway = new GatewayFactory(Settings());
        using var client = gateway.CreateAuthorizedClient(issuer.Mint("Zoë 100%", new Dictionary<string, object> { ["role"] = "admin" }));

        var echoed = await PauseAsync(client, new HttpRequestMessage(HttpMethod.Post, "/api/scheduler/schedules/1/pause"));

        Assert.Equal("jwt:Zo%C3%AB%20100%25", ActorOf(echoed));
        var request = new Microsoft.AspNetCore.Http.DefaultHttpContext().Request;
        request.Headers[CrewActor.Header] = ActorOf(echoed);
        Assert.Equal("jwt:Zoë 100%", CrewActor.Of(request));
    }

    [Fact]
    public async Task A_dashboard_session_is_named_by_its_keys_name()
    {
        await using var gateway = new GatewayFactory(Settings());
        using var client = gateway.CreateClient(new() { HandleCookies = false });
        using var signedIn = await client.PostAsJsonAsync("/dashboard/session", new { key = OpsKey });
        signedIn.EnsureSuccessStatusCode();
        var cookie = signedIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("crew-session=", StringComparison.Ordinal)).Split(';')[0];
        var token = (await signedIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("antiForgeryToken").GetString()!;

        var request = new HttpRequestMessage(HttpMethod.Post, "/api/scheduler/schedules/1/pause");
        request.Headers.Add("Cookie", cookie);
        request.Headers.Add("X-Crew-Anti-Forgery", token);
        var echoed = await PauseAsync(client, request);

        Assert.Equal("ops.night", ActorOf(echoed));
    }
}
