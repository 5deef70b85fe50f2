using CrewPlatform.ServiceDefaults;
using Yarp.ReverseProxy;

namespace CrewPlatform.Gateway.Dashboard;

/// <summary>
/// Puts a dashboard sign-in or sign-out in the audit trail. The gateway has no database: it asks the Scheduler, the
/// audit trail's reader, to write the row (<c>POST /audit/session/sign-in</c> or <c>/sign-out</c> on a destination of
/// the <c>scheduler</c> cluster, the healthy ones first), naming the session's key in <see cref="CrewActor.Header"/>
/// and the client in <see cref="CrewActor.ClientAddressHeader"/> as on every proxied request. A sign-in that cannot be
/// recorded does not happen (503); a sign-out always does, and one that cannot be recorded is logged.
/// </summary>
public sealed partial class SessionAudit(IProxyStateLookup proxyState, IHttpClientFactory clients, ILogger<SessionAudit> logger)
{
    public const string ClientName = "session-audit";
    public const string SchedulerCluster = "scheduler";

    public const string SignIn = "sign-in";
    public const string SignOut = "sign-out";

    /// <summary>Whether a Scheduler wrote the row.</summary>
    public async Task<bool> RecordAsync(HttpContext context, string action, string keyName)
    {
        if (!proxyState.TryGetCluster(SchedulerCluster, out var cluster))
        {
            LogNotRecorded(logger, action, keyName, "no scheduler cluster is configured");
            return false;
        }

        var destinations = cluster.DestinationsState.AvailableDestinations
            .Concat(cluster.Destinations.Values)
            .Distinct()
            .ToList();
        var client = clients.CreateClient(ClientName);
        var reason = "the scheduler cluster has no destination";
        foreach (var destination in destinations)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(destination.Model.Config.Address), $"audit/session/{action}"));
                request.Headers.TryAddWithoutValidation(CrewActor.Header, CrewActor.Encode(keyName));
                if (context.Connection.RemoteIpAddress is { } address)
                {
                    request.Headers.TryAddWithoutValidation(CrewActor.ClientAddressHeader, address.ToString());
                }

                using var response = await client.SendAsync(request, CancellationToken.None);
                if (response.IsSuccessStatusCode)
                {
                    return true;
                }

                reason = $"{destination.DestinationId} answered {(int)response.StatusCode}";
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or UriFormatException)
            {
                reason = $"{destination.DestinationId}: {ex.Message}";
            }
        }

        LogNotRecorded(logger, action, keyName, reason);
        return false;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit entry NOT RECORDED: session.{Action} by {Actor}: {Reason}")]
    private static partial void LogNotRecorded(ILogger logger, string action, string actor, string reason);
}
