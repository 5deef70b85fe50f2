using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.CrewCaller.Tests.Support;
using CrewPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.CrewCaller.Tests.Harness;

/// <summary>
/// What a user costs the ledger: two statements when the first attempt is answered (the claim counts that attempt; no
/// budget and no pace limit), and
/// an attempt counted by the claim but never made is given back when the command is handed back.
/// </summary>
public sealed class LedgerRoundTripTests : IClassFixture<CrewCallerDatabase>, IDisposable
{
    private readonly CrewCallerDatabase database;

    // Npgsql calls a data source's command filter only while its ActivitySource has a listener.
    private readonly ActivityListener npgsqlListener = new()
    {
        ShouldListenTo = source => source.Name == "Npgsql",
        Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.PropagationData,
    };

    private readonly ConcurrentQueue<string> statements = new();

    public LedgerRoundTripTests(CrewCallerDatabase database)
    {
        this.database = database;
        ActivitySource.AddActivityListener(npgsqlListener);
    }

    [Fact]
    public async Task A_user_answered_at_the_first_attempt_costs_the_ledger_two_statements()
    {
        var crew = new ScriptedCrewApi().ThenAnswer(HttpStatusCode.OK, """{"Questions":[]}""");
        await using var scope = await HarnessScope.StartAsync(database, crew, configureLedger: WatchStatements);
        var command = Messages.RunCrewForUser();

        await scope.SendAsync(command);
        var received = await scope.ReceivedAsync(command);

        Assert.Equal(1, received.Attempts);
        var row = await database.LedgerRowAsync(command.RunId, command.UserUid);
        Assert.Equal(("succeeded", 1), (row!.Status, row.Attempts));
        // Left out: the heartbeat's renewal and the endpoint's pause, read at most once a second whatever the traffic.
        var calls = statements.Where(s => !s.Contains("unnest", StringComparison.Ordinal) && !s.Contains("endpoint_pace", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, calls.Count);
        Assert.StartsWith("INSERT INTO crew_caller.crew_calls", calls[0].TrimStart(), StringComparison.Ordinal);
        Assert.Contains("status = 'succeeded'", calls[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_handed_back_at_an_open_circuit_before_its_first_attempt_gives_that_attempt_back()
    {
        var crew = new ScriptedCrewApi();
        await using var scope = await HarnessScope.StartAsync(database, crew, new Dictionary<string, string?>
        {
            ["CREW_CIRCUIT_ACTIVATION_THRESHOLD"] = "1",
            ["CREW_CIRCUIT_RESTART_SECONDS"] = "600",
        });
        var circuit = scope.Services.GetRequiredService<CrewEndpoints>().For(null).Circuit;
        using (var permit = await circuit.EnterAsync("another-user", CancellationToken.None))
        {
            permit.Record(CrewAttemptResult.Unreachable("connection error: ConnectionError"));
        }

        Assert.Equal(CrewApiCircuitState.Open, circuit.State);
        var command = Messages.RunCrewForUser();

        await scope.SendAsync(command);
        await Eventually.HoldsAsync(
            async () => (await database.LedgerRowAsync(command.RunId, command.UserUid))?.Attempts == 1,
            "the claim counted the first attempt",
            TimeSpan.FromSeconds(10));
        scope.Lifetime.StopApplication();
        await Eventually.HoldsAsync(
            async () => await database.ScalarAsync<bool>(
                "SELECT lease_expires_at < now() FROM crew_caller.crew_calls WHERE run_id = $1 AND user_uid = $2", command.RunId, command.UserUid),
            "the claim was released",
            TimeSpan.FromSeconds(10));

        Assert.Equal(0, crew.Calls);
        var row = await database.LedgerRowAsync(command.RunId, command.UserUid);
        Assert.Equal(("calling", 0), (row!.Status, row.Attempts));
    }

    public void Dispose() => npgsqlListener.Dispose();

    private void WatchStatements(Npgsql.NpgsqlDataSourceBuilder dataSource) =>
        dataSource.ConfigureTracing(tracing => tracing.ConfigureCommandFilter(command =>
        {
            statements.Enqueue(command.CommandText);
            return false;
        }));
}
