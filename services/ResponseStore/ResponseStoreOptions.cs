using System.ComponentModel.DataAnnotations;

namespace CrewPlatform.ResponseStore;

/// <summary>
/// The ResponseStore's settings, read from the top-level <c>CREW_RESPONSES_*</c> keys (environment variables of the same
/// name). Validated at startup: a bad value stops the service with a message naming the setting.
/// </summary>
public sealed class ResponseStoreOptions
{
    public const int MaxSearchTimeoutMs = 600_000;

    /// <summary>
    /// How long one search of the list (<c>jsonPath</c> or <c>q</c>) may run in PostgreSQL: its statements run under
    /// <c>SET LOCAL statement_timeout</c>, and one that runs out answers 422 instead of holding a connection.
    /// </summary>
    [ConfigurationKeyName("CREW_RESPONSES_SEARCH_TIMEOUT_MS")]
    [Range(1, MaxSearchTimeoutMs, ErrorMessage = "CREW_RESPONSES_SEARCH_TIMEOUT_MS must be a whole number from 1 to 600000")]
    public int SearchTimeoutMs { get; set; } = 5_000;
}
