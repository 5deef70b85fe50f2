using System.Text;
using Microsoft.AspNetCore.Http;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// Who acted, as the gateway authenticated the request: it sets <see cref="Header"/> on every request it proxies to a
/// backend (the API key's name, <c>jwt:&lt;sub&gt;</c> for a JWT, the dashboard session's key name, <c>anonymous</c>
/// with authentication off) after removing any copy a client sent. Key names cannot contain <c>:</c>, so a value with
/// the <c>jwt:</c> prefix is always a token's subject. The value is percent-encoded UTF-8 where a character is not
/// visible ASCII (or is <c>%</c>), so any subject fits a header; <see cref="Of"/> decodes it. A backend believes the
/// header only because its port is reachable from the gateway alone; a request without it (a call straight to a
/// backend, from a test or an operator on the backend's network) has no actor: <see cref="Of"/> answers null.
/// </summary>
public static class CrewActor
{
    public const string Header = "X-Crew-Actor";

    /// <summary>
    /// The client's address as the gateway saw it (after its trusted forwarded headers), set beside <see cref="Header"/>
    /// on every proxied request after removing any copy a client sent; what the audit trail records as where an action
    /// came from.
    /// </summary>
    public const string ClientAddressHeader = "X-Crew-Client-Address";

    /// <summary>Longest actor kept, in characters; a longer one (a JWT subject) is cut there.</summary>
    public const int MaxLength = 200;

    /// <summary>The header's value for an actor: printable ASCII but <c>%</c> as is, every other UTF-8 byte as <c>%XX</c>.</summary>
    public static string Encode(string actor)
    {
        var text = StorableText.Repair(Cut(actor))!;
        var builder = new StringBuilder(text.Length);
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            if (b is > 0x20 and < 0x7F && b != (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    /// <summary>The actor the gateway named, decoded; null when the request carries no (or an empty) <see cref="Header"/>.</summary>
    public static string? Of(HttpRequest request)
    {
        string? value = request.Headers[Header];
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        return StorableText.Repair(Cut(Uri.UnescapeDataString(value.Trim())));
    }

    /// <summary>The client's address the gateway named; null without (or with an empty) <see cref="ClientAddressHeader"/>.</summary>
    public static string? ClientAddressOf(HttpRequest request)
    {
        string? value = request.Headers[ClientAddressHeader];
        return string.IsNullOrWhiteSpace(value) ? null : StorableText.Repair(Cut(value.Trim()));
    }

    private static string Cut(string text) =>
        text.Length <= MaxLength ? text : text[..(char.IsHighSurrogate(text[MaxLength - 1]) ? MaxLength - 1 : MaxLength)];
}
