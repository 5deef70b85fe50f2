namespace CrewPlatform.Gateway.Security;

/// <summary>
/// Headers on every answer of the gateway, its own and the proxied ones, errors included: set as the response starts,
/// so they are there whichever step answered and override whatever a backend sent.
/// </summary>
public static class SecurityHeaders
{
    /// <summary>JSON answers load nothing and are framed by nobody.</summary>
    public const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'";

    /// <summary>
    /// The Scalar page at <c>/docs</c>: its scripts and styles come from the gateway itself (its configuration is an
    /// inline module script, its styles partly inline), it fetches the OpenAPI documents and "Try it" calls from the
    /// gateway, and nothing from elsewhere.
    /// </summary>
    public const string DocsPolicy =
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    public static Task AddAsync(HttpContext context, Func<Task> next)
    {
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers.ContentSecurityPolicy = context.Request.Path.StartsWithSegments("/docs", StringComparison.OrdinalIgnoreCase)
                ? DocsPolicy
                : ApiPolicy;
            return Task.CompletedTask;
        });
        return next();
    }
}
