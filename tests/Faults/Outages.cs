using System.Diagnostics;
using CrewPlatform.Testing;

namespace CrewPlatform.Faults;

/// <summary>
/// Real faults, caused the way production has them: a process killed by its PID, the real RabbitMQ node stopped, the
/// real PostgreSQL cluster stopped. Whatever a scenario stops, it starts again in a <c>finally</c>, so a failing test
/// never leaves the machine without its servers.
/// </summary>
public static class Outages
{
    private static readonly string PostgresVersion = Environment.GetEnvironmentVariable("PG_VERSION") ?? "15";
    private static readonly string PostgresCluster = Environment.GetEnvironmentVariable("PG_CLUSTER") ?? "main";

    /// <summary><c>kill -9</c>: no shutdown hook, no drain, exactly what a crashed machine or an OOM kill does.</summary>
    public static void Kill(int pid)
    {
        using var process = Process.GetProcessById(pid);
        process.Kill(entireProcessTree: false);
        process.WaitForExit(TimeSpan.FromSeconds(30));
    }

    public static Task StopPostgresAsync() => ShellAsync($"pg_ctlcluster {PostgresVersion} {PostgresCluster} stop -m fast");

    public static async Task StartPostgresAsync()
    {
        await ShellAsync($"pg_ctlcluster {PostgresVersion} {PostgresCluster} start || true; for i in $(seq 60); do pg_isready -h 127.0.0.1 -q && exit 0; sleep 1; done; exit 1");

        // The test's own pooled connections died with the server.
        Npgsql.NpgsqlConnection.ClearAllPools();
    }

    public static Task StopRabbitMqAsync() => ShellAsync("rabbitmqctl stop_app");

    public static Task StartRabbitMqAsync() => ShellAsync("rabbitmqctl start_app && rabbitmqctl await_startup --timeout 120");

    private static async Task ShellAsync(string script)
    {
        var (exitCode, output) = await LocalStackScript.RunProcessAsync("bash", ["-c", script]);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"`{script}` exited {exitCode}\n{output}");
        }
    }
}
