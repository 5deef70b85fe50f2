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

    /// <summary>
    /// The dashboard (<c>/</c> and <c>/dashboard/*</c>): scripts, styles and calls only to the gateway itself, nothing
    /// inline (its charts are SVG drawn by script, its sizes set through the CSSOM).
    /// </summary>
    public const string DashboardPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    public static Task AddAsync(HttpContext context, Func<Task> next)
    {
        // Chosen from the path as it came in: the default-files step rewrites "/" to "/index.html" before the answer starts.
        var path = context.Request.Path;
        var policy = path.StartsWithSegments("/docs", StringComparison.OrdinalIgnoreCase) ? DocsPolicy
            : path == "/" || path.StartsWithSegments("/dashboard", StringComparison.OrdinalIgnoreCase) ? DashboardPolicy
            : ApiPolicy;
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers.ContentSecurityPolicy = policy;
            return Task.CompletedTask;
        });
        return next();
    }
}
