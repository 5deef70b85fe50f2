using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.Testing;

namespace CrewPlatform.CrewCaller.Tests.Support;

/// <summary>A private database and virtual host with CrewCaller's migrations applied.</summary>
public class CrewCallerDatabase : RealInfrastructure
{
    protected override IReadOnlyList<ServiceSchema> MigratedSchemas { get; } = [ServiceSchema.Of<CrewCallerDbContext>(CrewCallerDbContext.Schema)];

    /// <summary>Writes the ledger row another instance leaves while it calls the crew API for this command's user.</summary>
    /// <param name="leaseLeft">How long the claim still holds, as a PostgreSQL interval (e.g. <c>1 hour</c>).</param>
    /// <param name="startedAgo">How long ago that instance started the call, as a PostgreSQL interval.</param>
    public Task ClaimAsAnotherInstanceAsync(RunCrewForUser command, string instance, string leaseLeft, string startedAgo = "0 seconds") =>
        ExecuteAsync(
            $"""
            INSERT INTO crew_caller.crew_calls (run_id, user_uid, status, attempts, claimed_by, lease_expires_at, started_at)
            VALUES ($1, $2, 'calling', 1, '{instance}', now() + interval '{leaseLeft}', now() - interval '{startedAgo}')
            """,
            command.RunId, command.UserUid);

    public async Task<LedgerRow?> LedgerRowAsync(Guid runId, string userUid)
    {
        await using var connection = OpenConnection();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT status, attempts, last_error, last_status_code, claimed_by, response_json FROM crew_caller.crew_calls WHERE run_id = $1 AND user_uid = $2",
            connection);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = runId });
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = userUid });
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
        {
            return null;
        }

        return new LedgerRow(
            reader.GetString(0),
            reader.GetInt32(1),
            reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetInt32(3),
            reader.GetString(4),
            reader.IsDBNull(5) ? null : reader.GetString(5));
    }
}

public sealed record LedgerRow(string Status, int Attempts, string? LastError, int? LastStatusCode, string ClaimedBy, string? ResponseJson);
