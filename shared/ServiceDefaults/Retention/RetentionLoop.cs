using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CrewPlatform.ServiceDefaults.Retention;

/// <summary>A retention pass a service runs on a timer: which replica does the work is its own business (a <see cref="PassLock"/>).</summary>
public interface IRetentionPass
{
    /// <summary>What the pass deletes, for the log: "answer retention", "run history retention".</summary>
    string Name { get; }

    /// <summary>Whether a rule is set: without one the loop never runs a pass.</summary>
    bool Enabled { get; }

    /// <summary>The wait between the end of one pass and the start of the next.</summary>
    TimeSpan Interval { get; }

    /// <summary>One pass with <paramref name="now"/> as the present.</summary>
    Task RunPassAsync(DateTimeOffset now, CancellationToken cancellationToken);
}

/// <summary>
/// Runs <typeparamref name="TPass"/> at startup and then every <see cref="IRetentionPass.Interval"/> on the service's
/// <see cref="TimeProvider"/>, in every replica. A pass that fails is logged and the next one carries on: each batch it
/// committed stays deleted. Does nothing when the pass has no rule.
/// </summary>
public sealed class RetentionLoop<TPass>(TPass pass, TimeProvider time, ILogger<RetentionLoop<TPass>> logger) : BackgroundService
    where TPass : IRetentionPass
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!pass.Enabled)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await pass.RunPassAsync(time.GetUtcNow(), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                RetentionLog.PassFailed(logger, ex, pass.Name);
            }

            try
            {
                await Task.Delay(pass.Interval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

public static class RetentionRegistration
{
    /// <summary><typeparamref name="TPass"/> as a singleton and the loop that runs it.</summary>
    public static IServiceCollection AddRetentionPass<TPass>(this IServiceCollection services) where TPass : class, IRetentionPass
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<TPass>();
        services.AddHostedService<RetentionLoop<TPass>>();
        return services;
    }
}

internal static partial class RetentionLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "The {Pass} pass failed")]
    public static partial void PassFailed(ILogger logger, Exception exception, string pass);
}
