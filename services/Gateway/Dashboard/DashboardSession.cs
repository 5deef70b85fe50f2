using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CrewPlatform.Gateway.Auth;
using CrewPlatform.Gateway.RateLimiting;
using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Gateway.Dashboard;

/// <summary>
/// The dashboard's sign-in: an API key exchanged once for a data-protected session cookie (HttpOnly, SameSite=Strict,
/// Secure over https), so the key never sits where JavaScript can read it. The session carries the key's name and role
/// and is accepted on <c>/api/*</c> beside Bearer credentials, with the same role rules. A session's control calls
/// (any method but GET and HEAD) must echo the session's anti-forgery token in <see cref="AntiForgeryHeader"/>: a
/// page of another site can make the browser send the cookie, never read the token. Bearer clients are unaffected.
/// </summary>
public static class DashboardSession
{
    public const string SchemeName = "Session";
    public const string CookieName = "crew-session";
    public const string AntiForgeryHeader = "X-Crew-Anti-Forgery";
    public const string SessionPath = "/dashboard/session";
    private const string AntiForgeryClaim = "crew:anti-forgery";

    /// <summary>Who is signed in; a page not signed in gets <c>signedIn: false</c> (200, so a browser logs no error).</summary>
    public sealed record SessionInfo(bool SignedIn, string? Client = null, string? Role = null, string? AntiForgeryToken = null);

    /// <summary>
    /// The session cookie, protected with the gateway's data-protection keys: one application name for every replica,
    /// and the keys in <c>CREW_GATEWAY_KEYS_DIRECTORY</c> when set, so a session signed in at one replica is valid at all.
    /// </summary>
    public static AuthenticationBuilder AddDashboardSession(this AuthenticationBuilder authentication)
    {
        authentication.Services.AddDataProtection().SetApplicationName("CrewPlatform.Gateway");
        authentication.Services.AddSingleton<SessionAudit>();
        authentication.Services.AddHttpClient(SessionAudit.ClientName, client => client.Timeout = TimeSpan.FromSeconds(5));
        authentication.Services.AddOptions<KeyManagementOptions>().Configure<IOptions<GatewayOptions>, ILoggerFactory>((keys, gateway, loggers) =>
        {
            if (gateway.Value.KeysDirectory is { Length: > 0 } directory)
            {
                keys.XmlRepository = new FileSystemXmlRepository(new DirectoryInfo(directory), loggers);
            }
        });
        return authentication.AddCookie(SchemeName, options =>
        {
            options.Cookie.Name = CookieName;
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            options.Cookie.Path = "/";
            options.ExpireTimeSpan = TimeSpan.FromHours(8);
            options.SlidingExpiration = true;
            // An API answers 401/403 in the envelope, never a redirect to a login page.
            options.Events.OnRedirectToLogin = context => ApiAccess.WriteChallengeAsync(context.Response, credentialWasWrong: false);
            options.Events.OnRedirectToAccessDenied = context =>
            {
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                return Task.CompletedTask;
            };
        });
    }

    /// <summary>A request with no Authorization header and the session cookie is judged by its session.</summary>
    public static bool UsesSession(HttpRequest request) =>
        !request.Headers.ContainsKey("Authorization") && request.Cookies.ContainsKey(CookieName);

    public static IEndpointRouteBuilder MapDashboardSession(this IEndpointRouteBuilder app)
    {
        app.MapGet(SessionPath, async (HttpContext context) =>
                await context.AuthenticateAsync(SchemeName) is { Succeeded: true, Principal: { } user } && Info(user) is { } info
                    ? ApiResults.Ok(info)
                    : ApiResults.Ok(new SessionInfo(SignedIn: false)))
            .RequireRateLimiting(ClientRateLimiting.PolicyName);
        app.MapPost(SessionPath, SignInAsync).RequireRateLimiting(ClientRateLimiting.PolicyName);
        app.MapPost(SessionPath + "/sign-out", async (HttpContext context, SessionAudit audit) =>
            {
                var signedIn = await context.AuthenticateAsync(SchemeName) is { Succeeded: true, Principal: { } user } ? user.ClientName() : null;
                await context.SignOutAsync(SchemeName);
                if (signedIn is not null)
                {
                    await audit.RecordAsync(context, SessionAudit.SignOut, signedIn);
                }

                return ApiResults.Message("Signed out");
            })
            .RequireRateLimiting(ClientRateLimiting.PolicyName);
        return app;
    }

    /// <summary>Body <c>{"key":"..."}</c>: a known key starts a session with its name and role; anything else is 400 or 401.</summary>
    private static async Task<IResult> SignInAsync(HttpContext context, IOptionsMonitor<ApiKeyOptions> keys, SessionAudit audit)
    {
        string? presented;
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            presented = body.RootElement.ValueKind == JsonValueKind.Object
                        && body.RootElement.TryGetProperty("key", out var key) && key.ValueKind == JsonValueKind.String
                ? key.GetString()
                : null;
        }
        catch (JsonException)
        {
            presented = null;
        }

        if (string.IsNullOrWhiteSpace(presented))
        {
            return ApiResults.BadRequest("key is required: send {\"key\":\"<API key>\"}");
        }

        var options = keys.Get(ApiKeyAuthenticationHandler.SchemeName);
        var (name, role) = options.Disabled
            ? ("anonymous", ApiAccess.AdminRole)
            : options.Match(presented.Trim()) is { } match ? (match.Name, match.Role) : (null, null);
        if (name is null || role is null)
        {
            return ApiResults.Error(StatusCodes.Status401Unauthorized, "Invalid key");
        }

        if (!await audit.RecordAsync(context, SessionAudit.SignIn, name))
        {
            return ApiResults.Error(StatusCodes.Status503ServiceUnavailable, "Signing in could not be recorded in the audit trail; try again shortly");
        }

        var identity = ApiAccess.Identity(name, role, SchemeName);
        identity.AddClaim(new Claim(AntiForgeryClaim, Convert.ToHexString(RandomNumberGenerator.GetBytes(32))));
        var user = new ClaimsPrincipal(identity);
        await context.SignInAsync(SchemeName, user);
        return ApiResults.Ok(Info(user));
    }

    private static SessionInfo? Info(ClaimsPrincipal user) =>
        user.ClientName() is { } client && user.FindFirst(ApiAccess.RoleClaim)?.Value is { } role && user.FindFirst(AntiForgeryClaim)?.Value is { } token
            ? new SessionInfo(true, client, role, token)
            : null;

    /// <summary>
    /// Refuses a session's control call (any method but GET and HEAD, sign-out included) whose anti-forgery header is
    /// missing or wrong: 403 in the envelope. Signing in is exempt: it carries a key, not the cookie's authority.
    /// </summary>
    public static Task RequireAntiForgeryAsync(HttpContext context, Func<Task> next)
    {
        if (context.User.Identity is { IsAuthenticated: true, AuthenticationType: SchemeName }
            && !ApiAccess.IsReadOnly(context.Request.Method)
            && !(HttpMethods.IsPost(context.Request.Method) && context.Request.Path.Equals(SessionPath, StringComparison.OrdinalIgnoreCase))
            && !TokenMatches(context))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return context.Response.WriteAsJsonAsync(new ErrorEnvelope(
                $"A dashboard session's {context.Request.Method} needs the session's anti-forgery token in the {AntiForgeryHeader} header"));
        }

        return next();
    }

    private static bool TokenMatches(HttpContext context)
    {
        var expected = context.User.FindFirst(AntiForgeryClaim)?.Value;
        string? presented = context.Request.Headers[AntiForgeryHeader];
        return expected is not null && presented is not null
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(presented));
    }
}
