using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Gateway.Tests.Support;

namespace CrewPlatform.Gateway.Tests;

/// <summary>
/// Two gateway replicas in process: a dashboard session signed in at one is valid at the other when both keep their
/// data-protection keys in the same <c>CREW_GATEWAY_KEYS_DIRECTORY</c>, and refused when each has its own.
/// </summary>
public sealed class SessionAcrossReplicasTests(Backends backends) : IClassFixture<Backends>, IDisposable
{
    private readonly string keysRoot = Directory.CreateTempSubdirectory("gateway-keys-").FullName;

    [Fact]
    public async Task A_session_and_its_anti_forgery_token_from_one_replica_are_accepted_by_another_sharing_the_keys_directory()
    {
        var shared = Path.Combine(keysRoot, "shared");
        await using var first = new GatewayFactory(Replica(shared));
        await using var second = new GatewayFactory(Replica(shared));
        var (cookie, token) = await SignInAsync(first);

        using var client = second.CreateClient();
        Assert.True(await SignedInAsync(client, cookie));
        using var status = await SendAsync(client, HttpMethod.Get, "/api/scheduler", cookie);
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        using var signOut = await SendAsync(client, HttpMethod.Post, "/dashboard/session/sign-out", cookie, token);
        Assert.Equal(HttpStatusCode.OK, signOut.StatusCode);
        Assert.NotEmpty(Directory.GetFiles(shared, "key-*.xml"));
    }

    [Fact]
    public async Task A_replica_with_keys_of_its_own_refuses_the_session_of_another()
    {
        await using var first = new GatewayFactory(Replica(Path.Combine(keysRoot, "first")));
        await using var second = new GatewayFactory(Replica(Path.Combine(keysRoot, "second")));
        var (cookie, token) = await SignInAsync(first);

        using var client = second.CreateClient();
        Assert.False(await SignedInAsync(client, cookie));
        using var status = await SendAsync(client, HttpMethod.Get, "/api/scheduler", cookie);
        Assert.Equal(HttpStatusCode.Unauthorized, status.StatusCode);
        await status.ReadErrorEnvelopeAsync();
        using var stop = await SendAsync(client, HttpMethod.Post, "/api/scheduler", cookie, token);
        Assert.Equal(HttpStatusCode.Unauthorized, stop.StatusCode);

        // The replica that signed it in still accepts it.
        using var own = first.CreateClient();
        Assert.True(await SignedInAsync(own, cookie));
    }

    [Fact]
    public void A_relative_keys_directory_stops_the_gateway_naming_the_setting()
    {
        using var gateway = new GatewayFactory(Replica("gateway-keys"));
        Assert.Contains("CREW_GATEWAY_KEYS_DIRECTORY", gateway.StartupFailure().Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(keysRoot, recursive: true);

    private Dictionary<string, string?> Replica(string keysDirectory)
    {
        var settings = backends.GatewaySettings();
        settings["CREW_GATEWAY_KEYS_DIRECTORY"] = keysDirectory;
        return settings;
    }

    private static async Task<(string Cookie, string Token)> SignInAsync(GatewayFactory gateway)
    {
        using var client = gateway.CreateClient(new() { HandleCookies = false });
        using var signedIn = await client.PostAsJsonAsync("/dashboard/session", new { key = GatewayFactory.Token });
        signedIn.EnsureSuccessStatusCode();
        var cookie = signedIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("crew-session=", StringComparison.Ordinal)).Split(';')[0];
        var token = (await signedIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("antiForgeryToken").GetString()!;
        return (cookie, token);
    }

    private static async Task<bool> SignedInAsync(HttpClient client, string cookie)
    {
        using var session = await SendAsync(client, HttpMethod.Get, "/dashboard/session", cookie);
        session.EnsureSuccessStatusCode();
        return (await session.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("signedIn").GetBoolean();
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string cookie, string? antiForgeryToken = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("Cookie", cookie);
        if (antiForgeryToken is not null)
        {
            request.Headers.Add("X-Crew-Anti-Forgery", antiForgeryToken);
            request.Content = JsonContent.Create(new { action = "stop" });
        }

        return client.SendAsync(request);
    }
}
