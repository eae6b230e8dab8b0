using System.Net;
using System.Text.RegularExpressions;

namespace ApprovalStudio.Testing;

/// <summary>The inbox's sign-in form as a browser fills it: the antiforgery token of the page, and the fields it posts.</summary>
public static partial class SignInForm
{
    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();

    /// <summary>Opens <c>/signin</c> with <paramref name="client"/> (its cookies get the antiforgery cookie) and reads the form's token.</summary>
    public static async Task<string> TokenAsync(HttpClient client) =>
        WebUtility.HtmlDecode(AntiforgeryField().Match(await client.GetStringAsync("/signin")).Groups[1].Value);

    /// <summary>The body of <c>POST /account/signin</c>; <paramref name="returnUrl"/> null leaves the field out.</summary>
    public static FormUrlEncodedContent Fields(string user, string password, string token, string? returnUrl = "/")
    {
        var fields = new Dictionary<string, string> { ["userName"] = user, ["password"] = password, ["__RequestVerificationToken"] = token };
        if (returnUrl is not null)
        {
            fields["returnUrl"] = returnUrl;
        }

        return new FormUrlEncodedContent(fields);
    }
}
