namespace CrewPlatform.ServiceDefaults;

/// <summary>The platform's one check for a URL setting: absolute, and http or https.</summary>
public static class HttpUrl
{
    public static bool IsAbsoluteHttp(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}
