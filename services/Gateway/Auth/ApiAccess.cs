using System.Security.Claims;
using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace CrewPlatform.Gateway.Auth;

/// <summary>
/// Who may do what on <c>/api/*</c>, decided by the HTTP method, so a route a backend adds later is covered without a
/// list to update: GET and HEAD read (role <c>read</c> or <c>admin</c>), every other method controls the platform (the
/// schedule, run-now, retries, deletes) and needs <c>admin</c>. One exception: the audit trail
/// (<see cref="AuditPath"/>) says who holds which key and where they act from, so only <c>admin</c> reads it.
/// </summary>
public static class ApiAccess
{
    /// <summary>The authorization policy the <c>/api/*</c> routes name in appsettings.json.</summary>
    public const string PolicyName = "api-access";

    public const string AdminRole = "admin";
    public const string ReadRole = "read";

    /// <summary>Claim types the gateway sets itself, whichever credential was presented.</summary>
    public const string ClientClaim = "crew:client";
    public const string RoleClaim = "crew:role";

    public static bool IsReadOnly(string method) => HttpMethods.IsGet(method) || HttpMethods.IsHead(method);

    /// <summary>The audit trail's API, readable by <see cref="AdminRole"/> only.</summary>
    public static readonly PathString AuditPath = "/api/audit";

    public static bool Allows(string? role, string method, PathString path) =>
        role == AdminRole || (role == ReadRole && IsReadOnly(method) && !path.StartsWithSegments(AuditPath, StringComparison.OrdinalIgnoreCase));

    public static ClaimsIdentity Identity(string client, string? role, string authenticationType) => new(
        role is null ? [new Claim(ClientClaim, client)] : [new Claim(ClientClaim, client), new Claim(RoleClaim, role)],
        authenticationType);

    /// <summary>The credential's name for logs (a key's name, a token's subject), never the credential itself.</summary>
    public static string? ClientName(this ClaimsPrincipal user) => user.FindFirst(ClientClaim)?.Value;

    public static AuthorizationBuilder AddApiAccessPolicy(this AuthorizationBuilder authorization, string scheme) =>
        authorization.AddPolicy(PolicyName, policy => policy
            .AddAuthenticationSchemes(scheme)
            .RequireAuthenticatedUser()
            .RequireAssertion(context => context.Resource is HttpContext http
                && Allows(context.User.FindFirst(RoleClaim)?.Value, http.Request.Method, http.Request.Path)));

    /// <summary>The 401 every scheme answers: the contract's envelope and <c>WWW-Authenticate: Bearer</c>, never an empty body.</summary>
    public static Task WriteChallengeAsync(HttpResponse response, bool credentialWasWrong)
    {
        response.StatusCode = StatusCodes.Status401Unauthorized;
        response.Headers.WWWAuthenticate = credentialWasWrong ? "Bearer error=\"invalid_token\"" : "Bearer";
        return response.WriteAsJsonAsync(new ErrorEnvelope(credentialWasWrong
            ? "Invalid token"
            : "Authorization required: send 'Authorization: Bearer <token>'"));
    }

    /// <summary>Answers a known client that its role does not allow the call: 403 in the envelope, saying why.</summary>
    public sealed class ForbiddenInEnvelope : IAuthorizationMiddlewareResultHandler
    {
        private readonly AuthorizationMiddlewareResultHandler standard = new();

        public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
        {
            if (!authorizeResult.Forbidden)
            {
                return standard.HandleAsync(next, context, policy, authorizeResult);
            }

            var role = context.User.FindFirst(RoleClaim)?.Value;
            var credential = context.User.Identity?.AuthenticationType == JwtBearerSetup.SchemeName ? "token" : "key";
            var message = role is null
                ? $"This {credential} has no role the gateway knows ('{AdminRole}' or '{ReadRole}'); an {AdminRole} or {ReadRole} role is required"
                : $"This {credential}'s role '{role}' cannot {context.Request.Method} {context.Request.Path}; an {AdminRole} {credential} is required";
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return context.Response.WriteAsJsonAsync(new ErrorEnvelope(message));
        }
    }
}
