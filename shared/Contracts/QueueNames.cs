namespace CrewPlatform.Contracts;

/// <summary>Queues that a sender addresses directly (commands). Events are published and need no name here.</summary>
public static class QueueNames
{
    /// <summary>CrewCaller's queue for <see cref="RunCrewForUser"/> of the default crew endpoint at normal priority.</summary>
    public const string RunCrewForUser = "run-crew-for-user";

    /// <summary>
    /// The queue of one crew endpoint at one priority: <c>run-crew-for-user</c> for the default endpoint at normal
    /// priority (the queue of every earlier version), <c>run-crew-for-user-at-{endpoint}</c> for another endpoint, and
    /// <c>-high</c> after either for high priority. Quorum queues have no message priorities, so priority is a queue.
    /// </summary>
    public static string RunCrewForUserOn(string? endpoint, string? priority) =>
        RunCrewForUser
        + (CrewEndpointNames.IsDefault(endpoint) ? "" : $"-at-{endpoint}")
        + (CrewPriority.IsHigh(priority) ? "-high" : "");

    /// <summary>
    /// Every queue of <see cref="RunCrewForUser"/> for these crew endpoints: each endpoint at each priority. The one list
    /// of them, which the CrewCaller consumes and the Scheduler declares before its first command.
    /// </summary>
    public static IEnumerable<(string Endpoint, string Priority, string Queue)> RunCrewForUserQueues(IEnumerable<string> endpoints) =>
        endpoints.SelectMany(endpoint => CrewPriority.All.Select(priority => (endpoint, priority, RunCrewForUserOn(endpoint, priority))));
}

/// <summary>Crew endpoints are named in configuration; <see cref="Default"/> is <c>CREW_API_URL</c>.</summary>
public static class CrewEndpointNames
{
    public const string Default = "default";

    public static bool IsDefault(string? endpoint) => string.IsNullOrEmpty(endpoint) || endpoint == Default;

    /// <summary>The name a message carries for the endpoint (null in messages of earlier versions).</summary>
    public static string OrDefault(string? endpoint) => string.IsNullOrEmpty(endpoint) ? Default : endpoint;
}

/// <summary>The priorities of a schedule's work in its endpoint's queues: high is served before normal.</summary>
public static class CrewPriority
{
    public const string Normal = "normal";
    public const string High = "high";

    public static readonly string[] All = [High, Normal];

    public static bool IsHigh(string? priority) => priority == High;
}
