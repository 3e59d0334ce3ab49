<?cs include:"header.cs" ?>
<h1>New API key <small class="muted"><?cs var:Tenant.Name ?></small></h1>
<section class="card">
  <p><strong>Copy this key now.</strong> It is shown only once; agenthost keeps only a hash of it.</p>
  <label>API key <?cs var:Secret.Prefix ?>…
    <input id="newkey" class="secret" type="text" readonly value="<?cs var:Secret.Key ?>"></label>
  <p><button type="button" data-copy="newkey">Copy</button></p>
  <?cs if:Secret.OldId ?><p>The old key (id <?cs var:Secret.OldId ?>) keeps working until <?cs var:Secret.OldUntil ?>; both keys work until then.</p><?cs /if ?>
  <p><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/keys">Back to the keys</a></p>
</section>
<?cs include:"footer.cs" ?>
