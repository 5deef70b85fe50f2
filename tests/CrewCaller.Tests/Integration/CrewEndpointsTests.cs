using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.CrewCaller.Tests.Support;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace CrewPlatform.CrewCaller.Tests.Integration;

/// <summary>
/// Two crew endpoints: <c>default</c> (the fake) and <c>broken</c>, whose URL refuses every connection. The circuit
/// trips on the fourth attempt when half failed and stays open for minutes, so the test sees it open.
/// </summary>
public sealed class TwoEndpointSettings : ICrewSettingsProfile
{
    private static readonly string RefusingUrl = $"http://127.0.0.1:{ClosedPort()}/run-crew";

    public static IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        ["CREW_MAX_CONCURRENCY"] = "2",
        ["CREW_MAX_ATTEMPTS"] = "3",
        ["CREW_RETRY_BASE_DELAY_MS"] = "50",
        ["CREW_CIRCUIT_ACTIVATION_THRESHOLD"] = "4",
        ["CREW_CIRCUIT_TRIP_PERCENT"] = "50",
        ["CREW_CIRCUIT_RESTART_SECONDS"] = "600",
        ["CREW_ENDPOINTS:broken:Url"] = RefusingUrl,
        ["CREW_ENDPOINTS:broken:MaxConcurrency"] = "3",
        ["CREW_ENDPOINTS:broken:Headers:X-Api-Key"] = "secret-from-a-vault",
    };

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

public sealed class CrewEndpointsTests(CrewCallerApp<TwoEndpointSettings> app) : IClassFixture<CrewCallerApp<TwoEndpointSettings>>
{
    [Fact]
    public async Task An_endpoint_that_fails_every_call_opens_only_its_own_circuit_while_the_other_endpoint_answers_its_users()
    {
        app.Fake.State.Reset();
        var broken = Enumerable.Range(0, 6).Select(_ => Messages.RunCrewForUser()).ToList();
        var healthy = Enumerable.Range(0, 10).Select(_ => Messages.RunCrewForUser()).ToList();

        await app.SendToAsync("broken", CrewPriority.Normal, broken);
        await Eventually.HoldsAsync(
            () => app.Endpoints.For("broken").Circuit.State == CrewApiCircuitState.Open,
            $"the broken endpoint's circuit opened (consumer faults: {string.Join("; ", app.Consumed.Select(c => c.Exception?.Message).Distinct())})",
            TimeSpan.FromSeconds(30));
        await app.SendToAsync(null, null, healthy);

        await Eventually.HoldsAsync(() => healthy.All(c => app.ReceivedFor(c).Count > 0), "every user of the healthy endpoint was answered", TimeSpan.FromSeconds(30));
        Assert.Equal(CrewApiCircuitState.Open, app.Endpoints.For("broken").Circuit.State);
        Assert.Equal(CrewApiCircuitState.Closed, app.Endpoints.For(null).Circuit.State);
        Assert.All(healthy, c => Assert.Equal(CrewEndpointNames.Default, app.ReceivedFor(c)[0].Endpoint));

        // The broken endpoint's users wait at its open circuit; refused connections cost no attempt: no failure, no answer, no call to the fake.
        Assert.DoesNotContain(app.Failed, f => broken.Any(c => c.UserUid == f.UserUid));
        Assert.DoesNotContain(app.Received, r => broken.Any(c => c.UserUid == r.UserUid));
        Assert.Equal(healthy.Count, app.Fake.State.Stats().Received);
        Assert.Equal(3, app.Endpoints.For("broken").MaxConcurrency);

        // What the dashboard reads through the gateway: the broken endpoint's circuit open, with its last failure and
        // the slots held by users waiting at it; the healthy one closed.
        using var client = app.CreateClient();
        using var response = await client.GetAsync("/api/crew-caller/endpoints");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(body.GetProperty("success").GetBoolean());
        var endpoints = body.GetProperty("data").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!);
        Assert.Equal(["broken", "default"], endpoints.Keys.Order(StringComparer.Ordinal));

        var brokenStatus = endpoints["broken"];
        Assert.Equal("open", brokenStatus.GetProperty("circuit").GetString());
        var openSince = brokenStatus.GetProperty("openSince").GetDateTimeOffset();
        Assert.Equal(openSince.AddSeconds(600), brokenStatus.GetProperty("openUntil").GetDateTimeOffset());
        Assert.StartsWith("connection error", brokenStatus.GetProperty("lastFailure").GetString(), StringComparison.Ordinal);
        Assert.Equal(3, brokenStatus.GetProperty("maxConcurrency").GetInt32());
        Assert.InRange(brokenStatus.GetProperty("inFlight").GetInt32(), 1, 3);
        Assert.DoesNotContain("secret-from-a-vault", brokenStatus.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", brokenStatus.GetRawText(), StringComparison.Ordinal);

        var healthyStatus = endpoints["default"];
        Assert.Equal("closed", healthyStatus.GetProperty("circuit").GetString());
        Assert.Equal(JsonValueKind.Null, healthyStatus.GetProperty("openUntil").ValueKind);
        Assert.Equal(2, healthyStatus.GetProperty("maxConcurrency").GetInt32());

        // Read-only: nothing else is mapped there.
        using var posted = await client.PostAsync("/api/crew-caller/endpoints", null);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, posted.StatusCode);
    }
}

/// <summary>One endpoint with four calls at once and a fake that takes 20 ms a call.</summary>
public sealed class PrioritySettings : ICrewSettingsProfile
{
    public const int MaxConcurrency = 4;

    public static IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        ["CREW_MAX_CONCURRENCY"] = MaxConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Logging:LogLevel:CrewPlatform"] = "Warning",
    };
}

public sealed class PriorityTests(CrewCallerApp<PrioritySettings> app, ITestOutputHelper output) : IClassFixture<CrewCallerApp<PrioritySettings>>
{
    [Fact]
    public async Task A_high_priority_run_behind_a_2000_user_normal_backlog_on_the_same_endpoint_finishes_first()
    {
        app.Fake.State.Reset();
        app.Fake.State.SetBehaviour(app.Fake.State.Behaviour with { LatencyMs = 20 });
        var backlogRun = Guid.NewGuid();
        var backlog = Enumerable.Range(0, 2000).Select(_ => Messages.RunCrewForUser() with { RunId = backlogRun }).ToList();
        var paidRun = Guid.NewGuid();
        var paid = Enumerable.Range(0, 20).Select(_ => Messages.RunCrewForUser() with { RunId = paidRun }).ToList();

        await app.SendToAsync(null, CrewPriority.Normal, backlog);
        await Eventually.HoldsAsync(() => app.Received.Count(r => r.RunId == backlogRun) >= 10, "the backlog is being worked on", TimeSpan.FromSeconds(60));
        await app.SendToAsync(null, CrewPriority.High, paid);

        await Eventually.HoldsAsync(() => app.Received.Count(r => r.RunId == paidRun) >= paid.Count, "the high-priority run was answered", TimeSpan.FromSeconds(60));
        var backlogAnswered = app.Received.Count(r => r.RunId == backlogRun);
        output.WriteLine($"normal users answered when the 20 high-priority users were done: {backlogAnswered} of {backlog.Count}");

        // Served ahead of the backlog: at most the calls in flight (and the few waiting for a slot) when it arrived, plus a margin for a slow machine.
        Assert.True(backlogAnswered < 1000, $"{backlogAnswered} normal users were answered before the high-priority run finished");
        Assert.True(app.Fake.State.Stats().PeakInFlight <= PrioritySettings.MaxConcurrency, "the two queues share the endpoint's concurrency");
    }
}

/// <summary>A default endpoint of one call at a time and a named one of eight, both on the fake.</summary>
public sealed class WideEndpointSettings : ICrewSettingsProfile
{
    public const int WideConcurrency = 8;

    public static IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        ["CREW_MAX_CONCURRENCY"] = "1",
        ["CREW_ENDPOINTS:wide:Url"] = ICrewSettingsProfile.FakeCrewUrl,
        ["CREW_ENDPOINTS:wide:MaxConcurrency"] = WideConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

public sealed class WideEndpointTests(CrewCallerApp<WideEndpointSettings> app) : IClassFixture<CrewCallerApp<WideEndpointSettings>>
{
    [Fact]
    public async Task A_named_endpoint_calls_as_many_at_once_as_its_own_concurrency_not_the_default_endpoints()
    {
        app.Fake.State.Reset();
        app.Fake.State.AddScript(Enumerable.Repeat(FakeCrewApi.Plans.Hold, WideEndpointSettings.WideConcurrency));
        var commands = Enumerable.Range(0, WideEndpointSettings.WideConcurrency).Select(_ => Messages.RunCrewForUser()).ToList();

        await app.SendToAsync("wide", CrewPriority.Normal, commands);
        try
        {
            await Eventually.HoldsAsync(
                () => app.Fake.State.Stats().InFlight == WideEndpointSettings.WideConcurrency,
                $"{WideEndpointSettings.WideConcurrency} calls in flight on the wide endpoint at once", TimeSpan.FromSeconds(30));
        }
        finally
        {
            app.Fake.State.ReleaseHeld();
        }

        await Eventually.HoldsAsync(() => commands.All(c => app.ReceivedFor(c).Count > 0), "every user answered", TimeSpan.FromSeconds(30));
    }
}
