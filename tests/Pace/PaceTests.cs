using System.Diagnostics;
using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.FakeCrewApi;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace CrewPlatform.Pace.Tests;

/// <summary>A private database and virtual host with CrewCaller's migrations applied.</summary>
public sealed class PaceInfrastructure : RealInfrastructure
{
    protected override IReadOnlyList<ServiceSchema> MigratedSchemas { get; } = [ServiceSchema.Of<CrewCallerDbContext>(CrewCallerDbContext.Schema)];
}

/// <summary>
/// The rate scenario: <c>CREW_CALLS_PER_MINUTE=30</c> on two CrewCaller instances (each its own instance id, one
/// database and virtual host), a crew API answering in 200 ms, and 200 users queued at once. The pace is shared, so
/// both instances together start at most 31 calls in any 60 s, and every user is answered. Takes about 7 minutes.
/// </summary>
public sealed class PaceTests(PaceInfrastructure infrastructure, ITestOutputHelper output) : IClassFixture<PaceInfrastructure>
{
    private const int Users = 200;
    private const int CallsPerMinute = 30;

    [Fact]
    public async Task Two_instances_at_30_calls_a_minute_start_at_most_31_calls_in_any_minute_and_answer_all_200_users()
    {
        await using var fake = await FakeCrewApiHost.StartAsync(new Dictionary<string, string?> { ["FakeCrew:LatencyMs"] = "200" });
        var settings = new Dictionary<string, string?>
        {
            ["CREW_API_URL"] = fake.RunCrewUrl.ToString(),
            ["CREW_CALLS_PER_MINUTE"] = CallsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
        };
        await using var first = new ServiceApp<Program>(infrastructure, settings);
        await using var second = new ServiceApp<Program>(infrastructure, settings);
        await using var observer = await new BusListener(infrastructure).Record<CrewResponseReceived>("pace-tests-observer").StartAsync();
        var instances = new[] { first, second }.Select(app => app.Services.GetRequiredService<CrewCallerInstance>().Id).ToList();
        Assert.Equal(2, instances.Distinct().Count());

        var runId = Guid.NewGuid();
        var commands = Enumerable.Range(0, Users).Select(i => new RunCrewForUser { RunId = runId, UserUid = $"pace-user-{i:000}", Context = $"Business {i}", Goal = "Grow" }).ToList();
        var started = Stopwatch.StartNew();
        var queue = await observer.Bus.GetSendEndpoint(ServiceDefaultsExtensions.QueueAddress(QueueNames.RunCrewForUser));
        await queue.SendBatch(commands);

        await Eventually.HoldsAsync(
            () => observer.Received<CrewResponseReceived>().Where(r => r.RunId == runId).Select(r => r.UserUid).Distinct().Count() == Users,
            $"all {Users} users are answered", TimeSpan.FromMinutes(10));
        var took = started.Elapsed;

        var starts = fake.State.Calls().Select(c => c.ReceivedAt).Order().ToList();
        var busiestMinute = starts.Select((at, i) => starts.Skip(i).TakeWhile(later => later - at < TimeSpan.FromMinutes(1)).Count()).Max();
        var ideal = TimeSpan.FromMinutes((double)Users / CallsPerMinute);
        output.WriteLine($"pace: {Users} users at CREW_CALLS_PER_MINUTE={CallsPerMinute} on 2 instances: {took.TotalSeconds:0} s (the rate's ideal {ideal.TotalSeconds:0} s); {starts.Count} call starts, at most {busiestMinute} in any 60 s");

        Assert.Equal(Users, starts.Count);
        Assert.Equal(2L, await infrastructure.ScalarAsync<long>("SELECT count(DISTINCT claimed_by) FROM crew_caller.crew_calls WHERE run_id = $1", runId));
        Assert.InRange(busiestMinute, 1, CallsPerMinute + 1);
    }
}
