using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace CrewPlatform.ServiceDefaults;

/// <summary>Ready when a connection to the platform's database opens and answers <c>SELECT 1</c>.</summary>
internal sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // The description is shown on /health/ready; keep internals (host, SQL) out of it.
            return new HealthCheckResult(context.Registration.FailureStatus, "PostgreSQL is not reachable");
        }
    }
}
