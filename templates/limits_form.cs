<?cs # The limits of one scope and the form that saves them (limits_form.c): Limits.N.{Name, Help,
  Value, Source, Set, Input, Error}, LimitsForm.Path; editable when User.Role is operator ?>
<form method="post" action="<?cs var:Prefix ?><?cs var:LimitsForm.Path ?>">
<input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
<div class="table-wrap">
<table class="grid limits">
  <thead><tr><th>Limit</th><th>Effective value</th><th>Source</th><?cs if:User.Role == "operator" ?><th>Set here</th><th>Clear</th><?cs /if ?></tr></thead>
  <tbody>
  <?cs each:l = Limits ?>
  <tr>
    <td><code><?cs var:l.Name ?></code><br><small><?cs var:l.Help ?></small></td>
    <td class="mono"><?cs var:l.Value ?></td>
    <td><span class="badge<?cs if:l.Set ?> ok<?cs /if ?>"><?cs var:l.Source ?></span></td>
    <?cs if:User.Role == "operator" ?>
    <td><input name="v.<?cs var:l.Name ?>" value="<?cs var:l.Input ?>" aria-label="<?cs var:l.Name ?>" placeholder="inherit"><?cs if:l.Error ?><br><span class="field-error"><?cs var:l.Error ?></span><?cs /if ?></td>
    <td><?cs if:l.Set ?><label class="check"><input type="checkbox" name="unset.<?cs var:l.Name ?>" value="1"> clear</label><?cs /if ?></td>
    <?cs /if ?>
  </tr>
  <?cs /each ?>
  </tbody>
</table>
</div>
<?cs if:User.Role == "operator" ?><p><button type="submit" class="primary">Save limits</button></p><?cs /if ?>
</form>
