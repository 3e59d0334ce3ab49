<?cs include:"header.cs" ?>
<h1>Set up two-factor sign-in</h1>
<section class="card">
  <p><strong>Scan this code with your authenticator app now.</strong> It is shown only once; agenthost keeps the secret sealed and never shows it again.</p>
  <svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 <?cs var:Qr.Size ?> <?cs var:Qr.Size ?>" width="<?cs var:Qr.Size * 6 ?>" height="<?cs var:Qr.Size * 6 ?>" shape-rendering="crispEdges" role="img" aria-label="QR code of the secret">
    <rect width="<?cs var:Qr.Size ?>" height="<?cs var:Qr.Size ?>" fill="#fff"/>
    <path d="<?cs var:Qr.Path ?>" fill="#000"/>
  </svg>
  <p>Or enter the key by hand: <code class="secret"><?cs var:Secret.Base32 ?></code></p>
  <p><label>Set-up link <input id="otpuri" class="secret" type="text" readonly value="<?cs var:Secret.Uri ?>"></label></p>
  <form method="post" action="<?cs var:Prefix ?>/admin/account/mfa/confirm">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>The 6-digit code the app shows <input name="code" autocomplete="one-time-code" inputmode="numeric" required maxlength="7" autofocus></label>
    <button type="submit" class="primary">Turn on</button>
  </form>
</section>
<?cs include:"footer.cs" ?>
