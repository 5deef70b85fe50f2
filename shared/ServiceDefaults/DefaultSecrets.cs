using Microsoft.Extensions.Hosting;
using Npgsql;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// Secrets everybody knows: the values this repository publishes for local runs (<c>guest</c>, <c>crew</c>, the old
/// <c>local-dev-token</c>, and the local convention of a password equal to its user name). In Production a service
/// configured with one refuses to start, naming the setting, instead of running with a password anyone can guess.
/// Every service checks each secret it uses: PostgreSQL and RabbitMQ where they are wired, the gateway its token.
/// </summary>
public static class DefaultSecrets
{
    private static readonly string[] Published = ["guest", "crew", "local-dev-token"];

    /// <summary>Why <paramref name="secret"/>, the value of <paramref name="setting"/>, must not run in production; null when it may.</summary>
    public static string? Refusal(string setting, string? secret, string? userName = null)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return null;
        }

        if (Published.Contains(secret, StringComparer.OrdinalIgnoreCase))
        {
            return $"{setting} is \"{secret}\", a default published with CrewPlatform: set a secret of your own before running in Production";
        }

        return string.Equals(secret, userName, StringComparison.OrdinalIgnoreCase)
            ? $"{setting} is the same as its user name (the local default): set a secret of your own before running in Production"
            : null;
    }

    /// <summary>The refusal for the password of a PostgreSQL connection string, named by <paramref name="setting"/>.</summary>
    public static string? PostgresRefusal(string setting, string connectionString)
    {
        var parsed = new NpgsqlConnectionStringBuilder(connectionString);
        return Refusal($"Password in {setting}", parsed.Password, parsed.Username);
    }

    /// <summary>Stops the service, in Production only, when <paramref name="refusal"/> found a known secret.</summary>
    public static void RefuseInProduction(this IHostApplicationBuilder builder, string? refusal)
    {
        if (refusal is not null && builder.Environment.IsProduction())
        {
            throw new InvalidOperationException($"{refusal} (ASPNETCORE_ENVIRONMENT={builder.Environment.EnvironmentName}).");
        }
    }
}
