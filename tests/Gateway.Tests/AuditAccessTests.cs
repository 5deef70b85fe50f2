using System.Net;
using System.Net.Http.Json;
using CrewPlatform.Gateway.Tests.Support;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;

namespace CrewPlatform.Gateway.Tests;

/// <summary>The gateway's part of the audit trail: who may read it, the client address it vouches for, and the record of a dashboard sign-in.</summary>
public sealed class AuditAccessTests(Backends backends) : IClassFixture<Backends>
{
    private const string OpsKey = "ops-key-0123456789abcdef";
    private const string ReaderKey = "reader-key-0123456789abc";

    private Dictionary<string, string?> Settings(string? schedulerUrl = null)
    {
        var settings = schedulerUrl is null ? backends.GatewaySettings() : GatewayFactory.SettingsFor(schedulerUrl, backends.ResponseStore.Url);
        settings["CREW_API_KEYS"] = $"ops.night:admin:{OpsKey},viewer:read:{ReaderKey}";
        return settings;
    }

    [Fact]
    public async Task Only_an_admin_credential_reads_the_audit_trail_a_read_one_is_refused_in_the_envelope()
    {
        await using var gateway = new GatewayFactory(Settings());

        using var refused = await gateway.CreateAuthorizedClient(ReaderKey).GetAsync("/api/audit?actor=ops.night");
        using var allowed = await gateway.CreateAuthorizedClient(OpsKey).GetAsync("/api/audit?actor=ops.night");

        await EnvelopeAssert.ErrorAsync(refused, HttpStatusCode.Forbidden,
            "This key's role 'read' cannot GET /api/audit; an admin key is required");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        var echoed = (await allowed.Content.ReadFromJsonAsync<EchoedRequest>())!;
        Assert.Equal(("scheduler", "/api/audit", "?actor=ops.night"), (echoed.Backend, echoed.Path, echoed.Query));
        using var reads = await gateway.CreateAuthorizedClient(ReaderKey).GetAsync("/api/scheduler/runs");
        Assert.Equal(HttpStatusCode.OK, reads.StatusCode);
    }

    [Fact]
    public async Task A_clients_own_address_header_never_reaches_a_backend()
    {
        await using var gateway = new GatewayFactory(Settings());
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/scheduler/schedules/1/pause");
        request.Headers.Add(CrewActor.ClientAddressHeader, "6.6.6.6");

        using var response = await gateway.CreateAuthorizedClient(OpsKey).SendAsync(request);

        var echoed = (await response.Content.ReadFromJsonAsync<EchoedRequest>())!;
        Assert.NotEqual("6.6.6.6", echoed.Headers.GetValueOrDefault(CrewActor.ClientAddressHeader));
    }

    [Fact]
    public async Task A_dashboard_sign_in_and_sign_out_are_recorded_by_the_scheduler_with_the_keys_name()
    {
        await using var gateway = new GatewayFactory(Settings());
        using var client = gateway.CreateClient(new() { HandleCookies = false });
        backends.Scheduler.Received.Clear();

        using var signedIn = await client.PostAsJsonAsync("/dashboard/session", new { key = OpsKey });
        signedIn.EnsureSuccessStatusCode();
        var cookie = signedIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("crew-session=", StringComparison.Ordinal)).Split(';')[0];
        var token = (await signedIn.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("data").GetProperty("antiForgeryToken").GetString()!;
        using var signOut = new HttpRequestMessage(HttpMethod.Post, "/dashboard/session/sign-out");
        signOut.Headers.Add("Cookie", cookie);
        signOut.Headers.Add("X-Crew-Anti-Forgery", token);
        (await client.SendAsync(signOut)).EnsureSuccessStatusCode();

        Assert.Equal(
            [("POST", "/audit/session/sign-in", "ops.night"), ("POST", "/audit/session/sign-out", "ops.night")],
            backends.Scheduler.Received.Select(r => (r.Method, r.Path, r.Headers.GetValueOrDefault(CrewActor.Header))));
    }

    [Fact]
    public async Task A_sign_in_that_cannot_be_recorded_does_not_happen()
    {
        await using var gateway = new GatewayFactory(Settings(schedulerUrl: StubBackend.UnusedUrl()));
        using var client = gateway.CreateClient(new() { HandleCookies = false });

        using var refused = await client.PostAsJsonAsync("/dashboard/session", new { key = OpsKey });

        await EnvelopeAssert.ErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "Signing in could not be recorded in the audit trail; try again shortly");
        Assert.False(refused.Headers.Contains("Set-Cookie"));
    }
}
